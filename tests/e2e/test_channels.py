"""Every registered provider, end to end: API -> real Celery worker -> the provider's local
fake (which checks its contract: signatures, auth, payload) -> SENT. Plus failover: the first
account answers 5xx, the message arrives through the second, and the trace says so.

One worker serves the whole module (it only needs the test database to exist); each test
gets its own rows through `transactional_db`.
"""

from __future__ import annotations

import base64
from contextlib import ExitStack

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from channels_app.models import ChannelAccount
from channels_app.providers.e2e_case import E2ECase
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.registry import PROVIDERS, get_adapter_class, provider_module
from channels_app.providers.wecom_app.fake_media import FakeWeComWithMedia
from notify.lanes import all_lanes
from templates_app.models import MessageTemplate
from tests.broker import broker_client
from tests.e2e.conftest import ROOT, Worker, wait_until
from tracking.models import Message

pytestmark = pytest.mark.e2e


def case_for(provider: str, stack: ExitStack) -> E2ECase:
    """The provider's own end-to-end case (channels_app/providers/<kind>/e2e.py)."""
    module = provider_module(provider, "e2e")
    assert module is not None, f"{provider} has no e2e.py with an e2e_case(stack)"
    return module.e2e_case(stack)


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
    missing = [name for name in PROVIDERS if provider_module(name, "e2e") is None]
    assert missing == []


def send_case(provider: str, case: E2ECase, api, tenant) -> Message:
    """An account and template of `provider` from its case, one message sent through the API
    and a real worker; returns the message in its final state."""
    adapter = get_adapter_class(provider)
    adapter.validate_content(case.channel, case.content)
    account = ChannelAccount.objects.create(
        app=tenant,
        name=provider,
        channel=case.channel,
        provider=provider,
        config=adapter.validate_config(case.config),
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
    return _final(_send(api, f"t-{provider}", case.receiver))


def assert_arrived(case: E2ECase, message: Message) -> None:
    assert message.state == "SENT", message.last_error
    assert message.receiver == case.receiver
    assert wait_until(case.arrived, timeout=5)
    states = [e.state for e in message.trace_events()]
    assert states == ["ACCEPTED", "QUEUED", "SENDING", "SENT"]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_provider_sends_through_a_real_worker(
    provider, transactional_db, module_worker, clean_redis, api, tenant
):
    with ExitStack() as stack:
        case = case_for(provider, stack)
        assert_arrived(case, send_case(provider, case, api, tenant))


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


def test_media_messages_through_the_api_and_a_real_worker(
    transactional_db, module_worker, clean_redis, api, tenant
):
    """An image template saved through the API (types checked there), sent to two users:
    WeCom receives one upload and two image messages naming its media_id."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048).decode()
    fake = FakeWeComWithMedia()
    with FakeHTTPServer(fake) as server:
        account = ChannelAccount.objects.create(
            app=tenant, name="wecom-media", channel="wecom", provider="wecom_app",
            config={"corpid": fake.corpid, "corpsecret": fake.corpsecret,
                    "agentid": fake.agentid},
            base_url=server.url,
        )  # fmt: skip
        template = {
            "code": "chart", "name": "chart", "channel": "wecom", "receiver_type": "user_id",
            "channel_account": account.pk,
        }  # fmt: skip
        gif = api.post(
            "/api/v1/templates",
            {**template, "content": {"msgtype": "image", "media": {
                "content_base64": base64.b64encode(b"GIF89a" + b"\x00" * 64).decode(),
                "filename": "anim.gif"}}},
            format="json",
        )  # fmt: skip
        created = api.post(
            "/api/v1/templates",
            {**template, "content": {"msgtype": "image",
                                     "media": {"content_base64": png, "filename": "chart.png"}}},
            format="json",
        )  # fmt: skip
        assert gif.status_code == 400  # WeCom images are JPG or PNG
        assert "content.media.content_type" in str(gif.json())
        assert created.status_code == 201, created.content

        sent = [_final(_send(api, "chart", user)) for user in ("ann", "bob")]

        assert [m.state for m in sent] == ["SENT", "SENT"], [m.last_error for m in sent]
        assert len(fake.store.uploads) == 1
        media_ids = {body["image"]["media_id"] for body in fake.accepted}
        assert media_ids == set(fake.store.media)
