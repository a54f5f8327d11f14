from __future__ import annotations

import pytest

from channels_app.models import ChannelAccount
from notify.delivery import batch_deliver
from templates_app.models import MessageTemplate
from tests.e2e.conftest import start_worker  # noqa: F401 - the e2e fixture, for test_e2e_*
from tests.fakes.dingtalk_work import FakeDingTalkWork
from tests.fakes.http import FakeHTTPServer
from tests.fakes.wecom_app import FakeWeCom
from tracking.models import Message


@pytest.fixture
def ding(tenant):
    """A DingTalk work-notice account and template against a local fake."""
    fake = FakeDingTalkWork()
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
            content={"msgtype": "text", "content": "Hi {$name}, see https://example.com/a?x=1."},
        )
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


# Rules whose state outlives a test (Redis windows): a resend of the same content would be
# stopped as a duplicate, which is their job, not what these tests are about.
STATEFUL_RULES = ("notify.rules.dedup.ContentDedupRule", "notify.rules.frequency.FrequencyCapRule")


@pytest.fixture(autouse=True)
def click_tracking_rule(settings):
    """The click-tracking rule as deployments configure it: last in TIDINGS_RULES."""
    rules = [r for r in settings.TIDINGS_RULES if r not in STATEFUL_RULES and r != CLICK_RULE]
    settings.TIDINGS_RULES = [*rules, CLICK_RULE]
