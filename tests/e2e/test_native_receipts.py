"""Native receipts end to end, one test per mechanism: API -> real Celery worker -> the
provider's local fake -> the receipt the provider pushes (posted to /r/...), the worker pulls
(the beat task, run by the worker) or the send answer itself holds -> the message's final
state; the trace, the message API and /api/v1/stats agree.

Yunpian push + pull, Getui receipts (signed), DingTalk work-notice getsendresult, WeChat's
signed, encrypted push to the server URL, Feishu's read state (pulled), WeCom's skipped
receivers and the FCM / APNs per-token answers that kill a device token. One worker serves
the module.
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

from channels_app.models import ChannelAccount
from channels_app.providers.apns.fake import FakeAPNs, FakeH2Server
from channels_app.providers.dingtalk_work.fake import FakeDingTalkWork
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.fakes_wechat import FakeWeChat, WeChatServerPush, new_encoding_aes_key
from channels_app.providers.fcm.fake import FakeFCM
from channels_app.providers.feishu_app.fake import FakeFeishuApp
from channels_app.providers.getui.fake import FakeGetui
from channels_app.providers.wecom_app.fake import FakeWeCom
from channels_app.providers.yunpian_sms.fake import FakeYunpianSms
from notify.lanes import all_lanes
from notify.models import DeadPushToken
from templates_app.models import MessageTemplate
from tests.broker import broker_client
from tests.e2e.conftest import ROOT, Worker, final_states, wait_until
from tracking.models import Message
from tracking.receipts.base import receipt_token
from tracking.tasks import pull_receipts

pytestmark = pytest.mark.e2e

PUSH = {"title": "Order shipped", "body": "Hi {$name}, it is on its way"}
TOKEN = "e2eServerToken"  # WeChat's server config Token
BEFORE = ["ACCEPTED", "QUEUED", "SENDING", "SENT"]


@pytest.fixture(scope="module")
def receipts_worker(django_db_setup, django_db_blocker):
    """One worker for the module that pulls Yunpian, DingTalk and Feishu receipts at once."""
    broker_client().flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONPATH": ROOT,
        "TIDINGS_RECEIPT_PULL_PROVIDERS": "yunpian_sms,dingtalk_work,feishu_app",
        "TIDINGS_RECEIPT_PULL_DELAY_SECONDS": "0",
    }
    worker = Worker(env, ",".join([*all_lanes(), settings.TIDINGS_HOUSEKEEPING_QUEUE]), 2)
    yield worker
    worker.kill()  # nothing left to finish: skip the warm shutdown
    with django_db_blocker.unblock():
        connection.close()


@pytest.fixture
def ready(transactional_db, receipts_worker):
    cache.clear()
    yield
    cache.clear()


def _setup(tenant, provider, channel, receiver_type, content, config, base_url) -> str:
    account = ChannelAccount.objects.create(
        app=tenant, name=provider, channel=channel, provider=provider, config=config,
        base_url=base_url,
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=tenant, name=provider, code=f"t-{provider}", channel=channel,
        receiver_type=receiver_type, content=content, channel_account=account,
    )  # fmt: skip
    return f"t-{provider}"


def _send(api, template: str, receivers: list[str]) -> list[str]:
    response = api.post(
        "/api/v1/send",
        {"template": template, "receivers": receivers, "variables": {"name": "Ada", "code": "42", "minutes": 5}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202, response.content
    return [m["message_id"] for m in response.json()["messages"]]


def _wait(ids: list[str], expected: dict[str, int]) -> dict[str, Message]:
    done = wait_until(lambda: final_states(ids) == expected, timeout=30)
    assert done, list(Message.objects.filter(message_id__in=ids).values_list("state", "last_error"))
    return {m.receiver: m for m in Message.objects.filter(message_id__in=ids)}


def _pull() -> None:
    pull_receipts.apply_async(queue=settings.TIDINGS_HOUSEKEEPING_QUEUE)


def _trace_and_stats_agree(api, template: str, ids: list[str]) -> Counter:
    trace = Counter(
        event.state
        for message in Message.objects.filter(message_id__in=ids)
        for event in message.trace_events()
    )
    stats = api.get("/api/v1/stats", {"template": template}).json()["totals"]
    assert dict(trace) == stats
    return trace


def _states(message: Message) -> list[str]:
    # As recorded (by id, not by the provider's timestamps), led by the steps derived from
    # the row (ACCEPTED, the first QUEUED: Message.trace_events).
    derived = [event.state for event in message.trace_events() if event.pk is None]
    stored = list(message.events.order_by("id").values_list("state", flat=True))
    return [*derived, *stored]


def _agree(api, message: Message, template: str, expected: list[str]) -> None:
    """The message's trace, its API detail and the stats API tell the same story."""
    assert _states(message) == expected
    detail = api.get(f"/api/v1/messages/{message.message_id}").json()
    assert [event["state"] for event in detail["events"]] == expected
    stats = api.get("/api/v1/stats", {"template": template}).json()["totals"]
    events = Counter(
        event.state
        for sent in Message.objects.filter(template__code=template)
        for event in sent.trace_events()
    )
    assert stats == dict(events)


def _post_receipt(account: ChannelAccount, body, content_type: str, token: bool = True):
    path = f"/r/{account.provider}/{account.pk}"
    if token:
        path += f"/{receipt_token(account.pk)}"
    return Client().post(path, body, content_type=content_type)


def test_yunpian_reports_pushed_and_pulled(ready, api, tenant):
    outcomes = {"13800000002": ("MK:0001", "空号"), "13800000004": ("UNDELIV", "用户关机")}
    fake = FakeYunpianSms(report_outcomes=outcomes)
    with FakeHTTPServer(fake) as server:
        template = _setup(
            tenant, "yunpian_sms", "sms", "phone", {"tpl_id": "1234567", "params": ["code", "minutes"]},
            {"apikey": fake.apikey}, server.url,
        )  # fmt: skip
        pushed = _send(api, template, ["13800000001", "+8613800000002"])
        sent = _wait(pushed, {"SENT": 2})
        # the sid of each number is stored on its own message
        assert {m.provider_message_id for m in sent.values()} == {
            str(a["sid"]) for a in fake.accepted
        }
        # Yunpian pushes the reports to the receipt URL
        account = sent["13800000001"].account
        response = _post_receipt(account, fake.push_body(), "application/x-www-form-urlencoded")
        assert (response.status_code, response.content) == (200, b"0")
        messages = _wait(pushed, {"DELIVERED": 1, "UNDELIVERED": 1})

        # or the worker pulls them (pull_status.json)
        pulled = _send(api, template, ["13800000003", "13800000004"])
        _wait(pulled, {"SENT": 2})
        _pull()
        messages |= _wait(pulled, {"DELIVERED": 1, "UNDELIVERED": 1})

    assert fake.reports == []  # drained: Yunpian hands each report out once
    assert "MK:0001" in messages["+8613800000002"].events.get(state="UNDELIVERED").detail
    assert "用户关机" in messages["13800000004"].events.get(state="UNDELIVERED").detail
    assert _states(messages["13800000001"])[-2:] == ["SENT", "DELIVERED"]
    trace = _trace_and_stats_agree(api, template, [*pushed, *pulled])
    assert trace["DELIVERED"] == trace["UNDELIVERED"] == 2


def test_getui_signed_receipts_arrival_and_click(ready, api, tenant):
    fake = FakeGetui(app_id="GxAppE2E", app_key="GxKeyE2E", master_secret="GxSecretE2E")
    with FakeHTTPServer(fake) as server:
        config = {
            "app_id": fake.app_id,
            "app_key": fake.app_key,
            "master_secret": fake.master_secret,
        }
        template = _setup(tenant, "getui", "push", "device_token", PUSH, config, server.url)
        ids = _send(api, template, ["cid-a", "cid-b", "cid-c"])
        sent = _wait(ids, {"SENT": 3})
    task = {cid: m.provider_message_id for cid, m in sent.items()}
    account = sent["cid-a"].account
    body = fake.receipt_body(
        ("cid-a", task["cid-a"], {}),
        ("cid-b", task["cid-b"], {}),
        ("cid-b", task["cid-b"], {"actionId": "60002"}),
        ("cid-c", task["cid-c"], {"code": "401", "desc": "用户不存在"}),
    )

    forged = _post_receipt(account, body.replace(b'"sign": "', b'"sign": "0'), "text/plain", False)
    assert forged.status_code == 403 and final_states(ids) == {"SENT": 3}
    response = _post_receipt(account, body, "text/plain", token=False)  # the sign is the proof

    assert response.status_code == 200
    messages = _wait(ids, {"DELIVERED": 1, "CLICKED": 1, "UNDELIVERED": 1})
    assert _states(messages["cid-b"])[-3:] == ["SENT", "DELIVERED", "CLICKED"]
    assert "用户不存在" in messages["cid-c"].events.get(state="UNDELIVERED").detail
    _trace_and_stats_agree(api, template, ids)


def test_dingtalk_work_notice_send_results_are_pulled(ready, api, tenant):
    fake = FakeDingTalkWork()
    fake.failed = {"u3": "failed_user_id_list", "u4": "forbidden_user_id_list"}
    with FakeHTTPServer(fake) as server:
        config = {"appkey": fake.appkey, "appsecret": fake.appsecret, "agent_id": fake.agent_id}
        content = {"msgtype": "markdown", "title": "Build", "text": "## passed, {$name}"}
        template = _setup(
            tenant, "dingtalk_work", "dingtalk", "user_id", content, config, server.url
        )
        ids = _send(api, template, ["u1", "u2", "u3", "u4"])
        _wait(ids, {"SENT": 4})
        fake.read = {"u1"}

        _pull()
        messages = _wait(ids, {"READ": 1, "DELIVERED": 1, "UNDELIVERED": 2})
        # u2 reads later: the next pull sees it
        fake.read = {"u1", "u2"}
        _pull()
        _wait(ids, {"READ": 2, "UNDELIVERED": 2})

    assert _states(messages["u1"])[-3:] == ["SENT", "DELIVERED", "READ"]
    assert "code 143106" in messages["u4"].events.get(state="UNDELIVERED").detail
    trace = _trace_and_stats_agree(api, template, ids)
    assert (trace["DELIVERED"], trace["READ"], trace["UNDELIVERED"]) == (2, 2, 2)


def _fcm(stack: ExitStack) -> tuple[dict, str, FakeFCM, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "firebase-adminsdk@tidings-e2e.iam.gserviceaccount.com"
    fake = FakeFCM(project_id="tidings-e2e", client_email=email, public_key=key.public_key())
    server = stack.enter_context(FakeHTTPServer(fake))
    fake.token_uri = f"{server.url}/token"
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    config = {"project_id": "tidings-e2e", "client_email": email, "private_key": pem,
              "token_uri": f"{server.url}/token"}  # fmt: skip
    token = "dGVzdC1kZXZpY2UtdG9rZW4tMDAwMg:APA91bHun4MxP5egoKMwt2KZFBaFUH"
    fake.unregistered.add(token)
    return config, server.url, fake, token


def _apns(stack: ExitStack) -> tuple[dict, str, FakeAPNs, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    fake = FakeAPNs(team_id="TEAM123456", key_id="KEY1234567", public_key=key.public_key(),
                    bundle_id="com.example.app")  # fmt: skip
    server = stack.enter_context(FakeH2Server(fake))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    config = {"team_id": fake.team_id, "key_id": fake.key_id, "private_key": pem,
              "bundle_id": fake.bundle_id}  # fmt: skip
    token = "c" * 64
    fake.unregistered.add(token)
    return config, server.url, fake, token


def test_dead_device_tokens_are_undelivered_then_never_used(ready, api, tenant):
    with ExitStack() as stack:
        for provider, make in (("fcm", _fcm), ("apns", _apns)):
            config, url, _, token = make(stack)
            template = _setup(tenant, provider, "push", "device_token", PUSH, config, url)

            first = _send(api, template, [token])
            message = _wait(first, {"UNDELIVERED": 1})[token]
            second = _send(api, template, [token])
            skipped = _wait(second, {"FAILED": 1})[token]

            reason = "UNREGISTERED" if provider == "fcm" else "410 Unregistered"
            assert message.attempts == 1  # not retried
            # the provider answered: SENT, then UNDELIVERED with its reason, like a receipt
            assert _states(message) == [*BEFORE, "UNDELIVERED"]
            assert reason in message.events.get(state="UNDELIVERED").detail
            dead = DeadPushToken.objects.get(app=tenant, token=token)
            assert dead.provider == provider and reason in dead.reason
            assert skipped.last_error.startswith("not sent: the device token is dead")
            assert "SENDING" not in _states(skipped)  # never offered to the provider
            _trace_and_stats_agree(api, template, [*first, *second])


@pytest.mark.parametrize("provider", ["wechat_oa", "wechat_mp"])
def test_wechat_push_to_the_server_url(provider, ready, api, tenant):
    aes_key = new_encoding_aes_key()
    fake = FakeWeChat(appid=f"wx-{provider}", template_ids={"TPL-1"})
    config = {"appid": fake.appid, "secret": fake.secret, "token": TOKEN,
              "encoding_aes_key": aes_key}  # fmt: skip
    content = {"template_id": "TPL-1", "data": {"first": "Hi {$name}"}}
    with FakeHTTPServer(fake) as server:
        template = _setup(tenant, provider, provider, "open_id", content, config, server.url)
        sent = _wait(_send(api, template, ["oAnn", "oBob"]), {"SENT": 2})
    delivered, blocked = sent["oAnn"], sent["oBob"]
    # The msgid WeChat answered at send is the key of its receipt.
    accepted_ids = {delivered.provider_message_id, blocked.provider_message_id}
    assert all(pid.isdigit() for pid in accepted_ids) and len(accepted_ids) == 2

    wechat = WeChatServerPush(fake.appid, TOKEN, aes_key, json_format=provider == "wechat_mp")
    url = f"/r/{provider}/{delivered.account_id}/none"
    verification = Client().get(f"{url}?{wechat.verification('hello', safe=True)}")
    assert verification.content == b"hello"
    for message, ok in ((delivered, True), (blocked, False)):
        if provider == "wechat_oa":
            status = "success" if ok else "failed:user block"
            event = wechat.template_finished(message.receiver, message.provider_message_id, status)
        else:
            entry = {"TemplateId": "TPL-1", "MsgID": message.provider_message_id,
                     "ErrorCode": 0 if ok else 20004,
                     "ErrorStatus": "success" if ok else "fail: user refuse"}  # fmt: skip
            event = wechat.subscribe_event(message.receiver, "subscribe_msg_sent_event", [entry])
        query, body, kind = wechat.push(event, safe=True)
        response = Client().post(f"{url}?{query}", body, content_type=kind)
        assert (response.status_code, response.content) == (200, b"success")

    delivered.refresh_from_db()
    blocked.refresh_from_db()
    assert (delivered.state, blocked.state) == ("DELIVERED", "UNDELIVERED")
    _agree(api, delivered, template, [*BEFORE, "DELIVERED"])
    _agree(api, blocked, template, [*BEFORE, "UNDELIVERED"])
    reason = blocked.events.get(state="UNDELIVERED").detail
    assert reason in ("wechat: failed:user block", "wechat_mp: fail: user refuse (ErrorCode 20004)")


def test_feishu_read_state_pulled_by_the_beat_task(ready, api, tenant):
    fake = FakeFeishuApp()
    config = {"app_id": fake.app_id, "app_secret": fake.app_secret}
    content = {"msg_type": "text", "text": "Deploy done, {$name}"}
    with FakeHTTPServer(fake) as server:
        template = _setup(tenant, "feishu_app", "feishu", "user_id", content, config, server.url)
        ids = _send(api, template, ["ou_ann", "ou_bob"])
        sent = _wait(ids, {"SENT": 2})
        read, unread = sent["ou_ann"], sent["ou_bob"]
        # Feishu's message_id, answered at send, is what its read state is asked by.
        assert set(fake.messages) == {read.provider_message_id, unread.provider_message_id}
        fake.read(read.provider_message_id, "ou_ann")
        # Both were sent a minute ago: past any settling delay of the pull.
        Message.objects.filter(pk__in=[read.pk, unread.pk]).update(
            sent_at=read.sent_at - timedelta(minutes=1)
        )

        _pull()
        _wait(ids, {"READ": 1, "SENT": 1})
    unread.refresh_from_db()
    assert unread.state == "SENT"  # nobody read it: Feishu has no delivery signal
    _agree(api, Message.objects.get(pk=read.pk), template, [*BEFORE, "READ"])
    _agree(api, unread, template, BEFORE)
    assert read.events.get(state="READ").detail == "feishu: read"


def test_wecom_skipped_receivers_from_the_send_answer(ready, api, tenant):
    fake = FakeWeCom()
    config = {"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid}
    content = {"msgtype": "text", "content": "Deploy done, {$name}"}
    with FakeHTTPServer(fake) as server:
        template = _setup(tenant, "wecom_app", "wecom", "user_id", content, config, server.url)
        ids = _send(api, template, ["ann", "InvalidBob", "UnlicensedCid"])
        messages = _wait(ids, {"SENT": 1, "UNDELIVERED": 2})
    assert {r: m.state for r, m in messages.items()} == {
        "ann": "SENT", "InvalidBob": "UNDELIVERED", "UnlicensedCid": "UNDELIVERED",
    }  # fmt: skip
    assert len(fake.accepted) == 1  # one call for the three
    _agree(api, messages["ann"], template, BEFORE)  # WeCom has no receipts: SENT by design
    _agree(api, messages["InvalidBob"], template, [*BEFORE, "UNDELIVERED"])
    assert messages["UnlicensedCid"].events.get(state="UNDELIVERED").detail == (
        "wecom: unlicenseduser (user has no WeCom license)"
    )
