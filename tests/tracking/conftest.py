from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.conf import settings

from channels_app.models import ChannelAccount
from channels_app.providers.dingtalk_work.fake import FakeDingTalkWork
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.wecom_app.fake import FakeWeCom
from config.redis import get_redis
from notify.delivery import batch_deliver
from notify.rules.config import rule_config_clear
from templates_app.models import MessageTemplate
from tests.e2e.conftest import start_worker  # noqa: F401 - the e2e fixture, for test_e2e_*
from tracking.models import Message


@contextmanager
def ding_channel(tenant, fake: FakeDingTalkWork, text: str):
    """A DingTalk work-notice account and template `ding` sending `text`, served by `fake`."""
    with FakeHTTPServer(fake) as server:
        account = ChannelAccount.objects.create(
            app=tenant,
            name="ding",
            channel="dingtalk",
            provider="dingtalk_work",
            base_url=server.url,
            config={"appkey": fake.appkey, "appsecret": fake.appsecret, "agent_id": fake.agent_id},
        )
        MessageTemplate.objects.create(
            app=tenant,
            name="ding",
            code="ding",
            channel="dingtalk",
            receiver_type="user_id",
            channel_account=account,
            content={"msgtype": "text", "content": text},
        )
        yield fake


@pytest.fixture
def ding(tenant):
    """A DingTalk work-notice account and template against a local fake."""
    with ding_channel(
        tenant, FakeDingTalkWork(), "Hi {$name}, see https://example.com/a?x=1."
    ) as fake:
        yield fake


@pytest.fixture
def wecom(tenant):
    fake = FakeWeCom()
    with FakeHTTPServer(fake) as server:
        account = ChannelAccount.objects.create(
            app=tenant,
            name="wecom",
            channel="wecom",
            provider="wecom_app",
            base_url=server.url,
            config={"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid},
        )
        MessageTemplate.objects.create(
            app=tenant,
            name="wecom",
            code="wecom",
            channel="wecom",
            receiver_type="user_id",
            channel_account=account,
            content={"msgtype": "text", "content": "Hello {$name}"},
        )
        yield fake


@pytest.fixture
def send(api):
    """POST /send, then deliver in this process (no broker needed); returns message ids."""

    def do(template: str, receivers: list[str], deliver: bool = True, **variables) -> list[str]:
        response = api.post(
            "/api/v1/send",
            {"template": template, "receivers": receivers, "variables": variables or {"name": "n"}},
            format="json",
        )
        assert response.status_code == 202, response.json()
        ids = [m["message_id"] for m in response.json()["messages"]]
        if deliver:
            batch_deliver(
                list(Message.objects.filter(message_id__in=ids).values_list("id", flat=True))
            )
        return ids

    return do


CLICK_RULE = "tracking.clicks.ClickTrackingRule"


def _flush_rule_keys() -> None:
    client = get_redis()
    keys = list(client.scan_iter(match=settings.TIDINGS_RULES_REDIS_PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def clean_rule_state():
    """Rule windows live in Redis and rule settings in a process cache: every test starts
    empty. The rules themselves all stay on (a resend must get past dedup and the
    frequency cap by being a resend, not because a test switched them off)."""
    _flush_rule_keys()
    rule_config_clear()
    yield
    _flush_rule_keys()
    rule_config_clear()


@pytest.fixture(autouse=True)
def click_tracking_rule(settings):
    """The click-tracking rule as deployments configure it: last in TIDINGS_RULES."""
    rules = [r for r in settings.TIDINGS_RULES if r != CLICK_RULE]
    settings.TIDINGS_RULES = [*rules, CLICK_RULE]
