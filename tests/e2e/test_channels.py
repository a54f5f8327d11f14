"""Every registered provider, end to end: API -> real Celery worker -> the provider's local
fake (which checks its contract: signatures, auth, payload) -> SENT. Plus failover: the first
account answers 5xx, the message arrives through the second, and the trace says so.

One worker serves the whole module (it only needs the test database to exist); each test
gets its own rows through `transactional_db`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from channels_app.models import ChannelAccount, InboxItem, SandboxDelivery
from channels_app.providers.registry import PROVIDERS, get_adapter_class
from notify.queueing import all_lanes
from templates_app.models import MessageTemplate
from tests.broker import broker_client
from tests.e2e.conftest import ROOT, Worker, wait_until
from tests.fakes.aliyun_sms import FakeAliyunSms
from tests.fakes.apns import FakeAPNs, FakeH2Server
from tests.fakes.dingtalk_robot import FakeDingTalkRobot
from tests.fakes.dingtalk_work import FakeDingTalkWork
from tests.fakes.fcm import FakeFCM
from tests.fakes.feishu_bot import FakeFeishuBot
from tests.fakes.getui import FakeGetui
from tests.fakes.http import FakeHTTPServer, Reply
from tests.fakes.mailgun import FakeMailgun
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.ses import FakeSes
from tests.fakes.slack import FakeSlackWebhook
from tests.fakes.smtp import FakeSMTPServer
from tests.fakes.telegram import FakeTelegram
from tests.fakes.tencent_sms import FakeTencentSms
from tests.fakes.twilio_sms import FakeTwilioSms
from tests.fakes.wechat_mp import FakeWeChatMP
from tests.fakes.wechat_oa import FakeWeChat
from tests.fakes.wecom_app import FakeWeCom
from tests.fakes.wecom_robot import FakeWeComRobot
from tests.fakes.yunpian_sms import FakeYunpianSms
from tracking.models import Message

pytestmark = pytest.mark.e2e

EMAIL = {"subject": "Hi {$name}", "text": "Hello {$name}", "html": "<p>Hello {$name}</p>"}
PUSH = {"title": "Order shipped", "body": "Hi {$name}, it is on its way"}


@dataclass
class Case:
    channel: str
    receiver_type: str
    receiver: str
    content: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    base_url: str = ""
    # True once the fake recorded the accepted send for `receiver`.
    arrived: Callable[[], bool] = lambda: True


def _http(stack: ExitStack, responder) -> FakeHTTPServer:
    return stack.enter_context(FakeHTTPServer(responder))


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def sandbox(stack: ExitStack) -> Case:
    return Case(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        arrived=lambda: SandboxDelivery.objects.filter(receiver="ada@example.com").exists(),
    )


def smtp(stack: ExitStack) -> Case:
    server = stack.enter_context(FakeSMTPServer())
    return Case(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        {"host": "127.0.0.1", "port": server.port, "from_email": "no-reply@acme.test"},
        arrived=lambda: (
            [m[0] for m in server.messages] == [["ada@example.com"]]
            and server.messages[0][1]["Subject"] == "Hi Ada"
        ),
    )


def webhook(stack: ExitStack) -> Case:
    server = _http(stack, lambda request: Reply(200, {"ok": True}))

    def arrived() -> bool:
        [request] = server.requests
        signed = request.headers["x-tidings-timestamp"].encode() + b"." + request.body
        expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
        return request.json["receiver"] == "u-1" and (
            request.headers["x-tidings-signature"] == expected
        )

    return Case(
        "webhook",
        "user_id",
        "u-1",
        {"text": "hello {$name}"},
        {"url": "https://hooks.example.com/in", "secret": "s3cret"},
        base_url=server.url + "/in",
        arrived=arrived,
    )


def ses(stack: ExitStack) -> Case:
    fake = FakeSes()
    server = _http(stack, fake)
    fake.url = server.url
    config = {
        "region": fake.region,
        "access_key_id": fake.access_key_id,
        "secret_access_key": fake.secret_access_key,
        "from_email": "Acme <news@acme.test>",
    }
    return Case(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        config,
        server.url,
        lambda: (
            [s["params"]["Destination"]["ToAddresses"] for s in fake.sent] == [["ada@example.com"]]
        ),
    )


def sendgrid(stack: ExitStack) -> Case:
    fake = FakeSendGrid()
    server = _http(stack, fake)
    return Case(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        {"api_key": fake.api_key, "from_email": "news@acme.test"},
        server.url + "/v3",
        lambda: (
            [s["personalizations"][0]["to"] for s in fake.sent] == [[{"email": "ada@example.com"}]]
        ),
    )


def mailgun(stack: ExitStack) -> Case:
    fake = FakeMailgun()
    server = _http(stack, fake)
    return Case(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        {"api_key": fake.api_key, "from_email": f"news@{fake.domain}"},
        server.url + "/v3",
        lambda: [s["to"] for s in fake.sent] == [["ada@example.com"]],
    )


def tencent_sms(stack: ExitStack) -> Case:
    fake = FakeTencentSms()
    server = _http(stack, fake)
    config = {
        "secret_id": fake.secret_id,
        "secret_key": fake.secret_key,
        "sms_sdk_app_id": fake.sms_sdk_app_id,
        "sign_name": "Acme",
    }
    return Case(
        "sms",
        "phone",
        "13800000001",
        {"template_id": "123456", "params": ["code"]},
        config,
        server.url,
        lambda: [(a["phone"], a["params"]) for a in fake.accepted] == [("+8613800000001", ["42"])],
    )


def aliyun_sms(stack: ExitStack) -> Case:
    fake = FakeAliyunSms()
    server = _http(stack, fake)
    config = {
        "access_key_id": fake.access_key_id,
        "access_key_secret": fake.access_key_secret,
        "sign_name": "Acme",
    }
    return Case(
        "sms",
        "phone",
        "13800000001",
        {"template_code": "SMS_123456789", "params": ["code"]},
        config,
        server.url,
        lambda: (
            [(a["phone"], a["template_param"]) for a in fake.accepted]
            == [("13800000001", {"code": "42"})]
        ),
    )


def yunpian_sms(stack: ExitStack) -> Case:
    fake = FakeYunpianSms()
    server = _http(stack, fake)
    return Case(
        "sms",
        "phone",
        "13800000001",
        {"tpl_id": "1234567", "params": ["code", "minutes"]},
        {"apikey": fake.apikey},
        server.url,
        lambda: (
            [(a["mobile"], a["text"]) for a in fake.accepted]
            == [("13800000001", "【Acme】您的验证码是42，5分钟内有效")]
        ),
    )


def twilio_sms(stack: ExitStack) -> Case:
    fake = FakeTwilioSms()
    server = _http(stack, fake)
    config = {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "from_number": "+15005550006",
    }
    return Case(
        "sms",
        "phone",
        "+14155550100",
        {"text": "Your code is {$code}"},
        config,
        server.url,
        lambda: (
            [(a["To"], a["Body"]) for a in fake.accepted] == [("+14155550100", "Your code is 42")]
        ),
    )


def wechat_oa(stack: ExitStack) -> Case:
    fake = FakeWeChat(appid="wx-oa-e2e", template_ids={"TPL-1"})
    server = _http(stack, fake)
    return Case(
        "wechat_oa",
        "open_id",
        "oAnn",
        {"template_id": "TPL-1", "data": {"first": "Hi {$name}"}},
        {"appid": fake.appid, "secret": fake.secret},
        server.url,
        lambda: (
            [(body["touser"], body["data"]) for _, body in fake.accepted]
            == [("oAnn", {"first": {"value": "Hi Ada"}})]
        ),
    )


def wechat_mp(stack: ExitStack) -> Case:
    fake = FakeWeChatMP(appid="wx-mp-e2e", template_ids={"SUB-1"})
    server = _http(stack, fake)
    return Case(
        "wechat_mp",
        "open_id",
        "oBob",
        {"template_id": "SUB-1", "data": {"thing1": "Order for {$name}"}},
        {"appid": fake.appid, "secret": fake.secret},
        server.url,
        lambda: [s["touser"] for s in fake.subscribe_sends()] == ["oBob"],
    )


def wecom_app(stack: ExitStack) -> Case:
    fake = FakeWeCom()
    server = _http(stack, fake)
    config = {"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid}
    return Case(
        "wecom",
        "user_id",
        "ann",
        {"msgtype": "text", "content": "Deploy done, {$name}"},
        config,
        server.url,
        lambda: (
            [(b["touser"], b["text"]) for b in fake.accepted]
            == [("ann", {"content": "Deploy done, Ada"})]
        ),
    )


def wecom_robot(stack: ExitStack) -> Case:
    fake = FakeWeComRobot()
    server = _http(stack, fake)
    return Case(
        "wecom",
        "chat_id",
        "ops-group",
        {"msgtype": "markdown", "content": "# Disk full on {$name}"},
        {"key": fake.key},
        server.url,
        lambda: (
            fake.accepted
            == [{"msgtype": "markdown", "markdown": {"content": "# Disk full on Ada"}}]
        ),
    )


def dingtalk_work(stack: ExitStack) -> Case:
    fake = FakeDingTalkWork()
    server = _http(stack, fake)
    config = {"appkey": fake.appkey, "appsecret": fake.appsecret, "agent_id": fake.agent_id}
    return Case(
        "dingtalk",
        "user_id",
        "u1",
        {"msgtype": "markdown", "title": "Build", "text": "## Build passed, {$name}"},
        config,
        server.url,
        lambda: [b["userid_list"] for b in fake.accepted] == ["u1"],
    )


def dingtalk_robot(stack: ExitStack) -> Case:
    fake = FakeDingTalkRobot()
    server = _http(stack, fake)
    return Case(
        "dingtalk",
        "chat_id",
        "ops",
        {"msgtype": "text", "content": "disk full, {$name}"},
        {"access_token": fake.access_token, "secret": fake.secret},
        server.url,
        lambda: [b["text"] for b in fake.accepted] == [{"content": "disk full, Ada"}],
    )


def feishu_bot(stack: ExitStack) -> Case:
    fake = FakeFeishuBot()
    server = _http(stack, fake)
    return Case(
        "feishu",
        "chat_id",
        "ops",
        {"msg_type": "text", "text": "Deploy done, {$name}"},
        {"token": fake.token, "secret": fake.secret},
        server.url,
        lambda: [b["content"] for b in fake.accepted] == [{"text": "Deploy done, Ada"}],
    )


def fcm(stack: ExitStack) -> Case:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "firebase-adminsdk@tidings-e2e.iam.gserviceaccount.com"
    fake = FakeFCM(project_id="tidings-e2e", client_email=email, public_key=key.public_key())
    server = _http(stack, fake)
    fake.token_uri = f"{server.url}/token"
    config = {
        "project_id": "tidings-e2e",
        "client_email": email,
        "private_key": _pem(key),
        "token_uri": f"{server.url}/token",
    }
    device = "dGVzdC1kZXZpY2UtdG9rZW4tMDAwMQ:APA91bHun4MxP5egoKMwt2KZFBaFUH"
    return Case(
        "push",
        "device_token",
        device,
        PUSH,
        config,
        server.url,
        lambda: [s["token"] for s in fake.sent] == [device],
    )


def apns(stack: ExitStack) -> Case:
    key = ec.generate_private_key(ec.SECP256R1())
    fake = FakeAPNs(
        team_id="TEAM123456",
        key_id="KEY1234567",
        public_key=key.public_key(),
        bundle_id="com.example.app",
    )
    server = stack.enter_context(FakeH2Server(fake))
    config = {
        "team_id": fake.team_id,
        "key_id": fake.key_id,
        "private_key": _pem(key),
        "bundle_id": fake.bundle_id,
    }
    return Case(
        "push",
        "device_token",
        "b" * 64,
        PUSH,
        config,
        server.url,
        lambda: (
            [(s["device"], s["payload"]["aps"]["alert"]["title"]) for s in fake.sent]
            == [("b" * 64, "Order shipped")]
        ),
    )


def getui(stack: ExitStack) -> Case:
    fake = FakeGetui(app_id="GxAppE2E", app_key="GxKeyE2E", master_secret="GxSecretE2E")
    server = _http(stack, fake)
    config = {"app_id": fake.app_id, "app_key": fake.app_key, "master_secret": fake.master_secret}
    return Case(
        "push",
        "device_token",
        "cid-e2e",
        PUSH,
        config,
        server.url,
        lambda: [p["cid"] for p in fake.pushed] == ["cid-e2e"],
    )


def slack(stack: ExitStack) -> Case:
    fake = FakeSlackWebhook()
    server = _http(stack, fake)
    return Case(
        "slack",
        "chat_id",
        "#alerts",
        {"text": "deploy done by {$name}"},
        {"path": fake.path},
        server.url,
        lambda: fake.posted == [{"text": "deploy done by Ada"}],
    )


def telegram(stack: ExitStack) -> Case:
    fake = FakeTelegram()
    server = _http(stack, fake)
    return Case(
        "telegram",
        "chat_id",
        "1001",
        {"text": "hello {$name}"},
        {"bot_token": fake.token},
        server.url,
        lambda: [(s["chat"], s["text"]) for s in fake.sent] == [("1001", "hello Ada")],
    )


def apprise(stack: ExitStack) -> Case:
    server = _http(stack, lambda request: Reply(200, {}))
    url = "json://" + server.url.removeprefix("http://") + "/hooks/alerts"
    return Case(
        "other",
        "any",
        "*",
        {"title": "Disk", "body": "db at 91%, {$name}"},
        {"urls": [url]},
        arrived=lambda: (
            [(r.path, r.json["message"]) for r in server.requests]
            == [("/hooks/alerts", "db at 91%, Ada")]
        ),
    )


def inbox(stack: ExitStack) -> Case:
    return Case(
        "inbox",
        "user_id",
        "user-7",
        {"title": "Welcome", "body": "Hi {$name}", "data": {"link": "/start"}},
        arrived=lambda: InboxItem.objects.filter(user_id="user-7", body="Hi Ada").exists(),
    )


CASES: dict[str, Callable[[ExitStack], Case]] = {
    name: case
    for name, case in globals().items()
    if name in PROVIDERS and callable(case)  # one function per provider, named after it
}


@pytest.fixture(scope="module")
def module_worker(django_db_setup, django_db_blocker):
    """One worker for the module, on the test database and a broker emptied once."""
    import os

    broker_client().flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONPATH": ROOT,
        "TIDINGS_BREAKER_FAILURES": "2",
    }
    worker = Worker(env, ",".join([*all_lanes(), settings.TIDINGS_HOUSEKEEPING_QUEUE]), 2)
    yield worker
    worker.stop()
    with django_db_blocker.unblock():
        connection.close()


@pytest.fixture
def clean_redis():
    cache.clear()  # provider tokens and breakers of earlier runs (REDIS_URL's database)
    yield
    cache.clear()


def _send(api, template: str, receiver: str) -> str:
    response = api.post(
        "/api/v1/send",
        {
            "template": template,
            "receivers": [receiver],
            "variables": {"name": "Ada", "code": "42", "minutes": 5},
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["messages"][0]["message_id"]


def _final(message_id: str) -> Message:
    def done() -> bool:
        return Message.objects.filter(message_id=message_id, state__in=["SENT", "FAILED"]).exists()

    assert wait_until(done, timeout=30), Message.objects.get(message_id=message_id).state
    return Message.objects.get(message_id=message_id)


def test_every_registered_provider_has_a_case():
    assert sorted(CASES) == sorted(PROVIDERS)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_provider_sends_through_a_real_worker(
    provider, transactional_db, module_worker, clean_redis, api, tenant
):
    with ExitStack() as stack:
        case = CASES[provider](stack)
        get_adapter_class(provider).validate_content(case.channel, case.content)
        account = ChannelAccount.objects.create(
            app=tenant,
            name=provider,
            channel=case.channel,
            provider=provider,
            config=get_adapter_class(provider).validate_config(case.config),
            base_url=case.base_url,
        )
        MessageTemplate.objects.create(
            app=tenant,
            name=provider,
            code=f"t-{provider}",
            channel=case.channel,
            receiver_type=case.receiver_type,
            content=case.content,
            channel_account=account,
        )

        message = _final(_send(api, f"t-{provider}", case.receiver))

        assert message.state == "SENT", message.last_error
        assert message.receiver == case.receiver
        assert wait_until(case.arrived, timeout=5)
        states = [e.state for e in message.trace_events()]
        assert states == ["ACCEPTED", "QUEUED", "SENDING", "SENT"]


def test_failover_when_the_first_account_answers_5xx(
    transactional_db, module_worker, clean_redis, api, tenant
):
    # given two routed webhook accounts, the heavier one down
    with (
        FakeHTTPServer(lambda request: Reply(503, {"error": "down"})) as down,
        FakeHTTPServer(lambda request: Reply(200, {"ok": True})) as up,
    ):
        first = ChannelAccount.objects.create(
            app=tenant,
            name="hook-a",
            channel="webhook",
            provider="webhook",
            config={"url": down.url + "/in"},
            weight=1_000_000,
        )
        ChannelAccount.objects.create(
            app=tenant,
            name="hook-b",
            channel="webhook",
            provider="webhook",
            config={"url": up.url + "/in"},
            weight=1,
        )
        MessageTemplate.objects.create(
            app=tenant,
            name="routed",
            code="routed",
            channel="webhook",
            receiver_type="user_id",
            content={"text": "hi {$name}"},
        )

        # when
        message = _final(_send(api, "routed", "u-1"))

        # then it went to a first, failed over to b within the same attempt, and arrived
        assert message.state == "SENT", message.last_error
        assert [r.json["receiver"] for r in up.requests] == ["u-1"]
        assert len(down.requests) == 1
        assert message.attempts == 1
        assert message.account.name == "hook-b"
        trace = list(message.events.values_list("state", "detail"))
        sending = [detail for state, detail in trace if state == "SENDING"]
        assert sending[0].startswith("attempt 1 via hook-a (webhook); routed by weight")
        assert sending[1].startswith("attempt 1 via hook-b (webhook); failover after hook-a")
        assert trace[-1][0] == "SENT"
        first.refresh_from_db()
        assert first.consecutive_failures == 1
        assert "503" in first.last_error

        # and once a's breaker is open (2 failures in this module's worker) it is skipped
        second = _final(_send(api, "routed", "u-2"))
        third = _final(_send(api, "routed", "u-3"))
        assert (second.state, third.state) == ("SENT", "SENT")
        assert len(down.requests) == 2
        third_sending = third.events.filter(state="SENDING").values_list("detail", flat=True)
        assert list(third_sending) == [
            "attempt 1 via hook-b (webhook); routed by weight; skipped hook-a (circuit open)"
        ]
