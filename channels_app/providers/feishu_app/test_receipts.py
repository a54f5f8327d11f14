"""Read state pulled from Feishu's read_users for the app bot's SENT messages."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.feishu_app import receipts
from channels_app.providers.feishu_app.adapter import FeishuAppAdapter
from channels_app.providers.feishu_app.fake import FakeFeishuApp
from notify.models import SendRequest
from notify.services import app_create
from templates_app.models import MessageTemplate
from tracking.models import Message
from tracking.receipts.pull import receipts_pull


@pytest.fixture
def fake():
    cache.clear()
    return FakeFeishuApp()


@pytest.fixture
def account(db, fake):
    with FakeHTTPServer(fake) as server:
        app, _ = app_create("acme-feishu")
        yield ChannelAccount.objects.create(
            app=app, name="feishu", channel="feishu", provider="feishu_app", base_url=server.url,
            config={"app_id": fake.app_id, "app_secret": fake.app_secret},
        )  # fmt: skip
    cache.clear()


def _sent_message(account: ChannelAccount, receiver: str, provider_id: str) -> Message:
    template, _ = MessageTemplate.objects.get_or_create(
        app=account.app, code="t-feishu-app",
        defaults={"name": "t", "channel": account.channel, "receiver_type": "user_id",
                  "content": {"msg_type": "text", "text": "hi"}},
    )  # fmt: skip
    request = SendRequest.objects.create(app=account.app, template=template, priority="normal")
    now = timezone.now()
    return Message.objects.create(
        app=account.app, request=request, template=template, channel=account.channel,
        account=account, receiver=receiver, content={}, priority="normal", state="SENT",
        provider_message_id=provider_id, created_at=now, updated_at=now, sent_at=now,
    )  # fmt: skip


def sent(account: ChannelAccount, receivers: list[str], minutes_ago: int = 5) -> list[Message]:
    """Messages really sent through the fake (so it knows their message_id), SENT here."""
    adapter = FeishuAppAdapter(account.config, base_url=account.base_url)
    content = {"msg_type": "text", "text": "hi"}
    outbound = [OutboundMessage(1, str(uuid.uuid4()), r, content) for r in receivers]
    messages = []
    for receiver, result in zip(receivers, adapter.send(outbound), strict=True):
        message = _sent_message(account, receiver, result.provider_message_id)
        Message.objects.filter(pk=message.pk).update(
            sent_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
        messages.append(message)
    return messages


def states(messages: list[Message]) -> list[str]:
    return [Message.objects.get(pk=m.pk).state for m in messages]


def test_read_messages_become_read_and_the_rest_stay_sent(account, fake):
    ann, bob = sent(account, ["ou_ann", "ou_bob"])
    read_at = timezone.now() - timedelta(minutes=1)
    fake.read(ann.provider_message_id, "ou_ann", read_at.timestamp())

    totals = receipts_pull()  # the beat task's path

    assert totals["accounts"] == 1 and totals["moved"] == 1
    assert states([ann, bob]) == ["READ", "SENT"]
    event = ann.events.get(state="READ")
    assert event.detail == "feishu: read"
    assert abs((event.at - read_at).total_seconds()) < 0.01
    assert fake.page_size_seen == [100, 100]


def test_a_group_message_read_by_many_is_paged(account, fake, monkeypatch):
    monkeypatch.setattr(receipts, "PAGE_SIZE", 2)
    [group] = sent(account, ["oc_team"])
    for index in range(5):
        fake.read(group.provider_message_id, f"ou_{index}")
    receipts.pull(account, timezone.now(), 10)
    assert states([group]) == ["READ"]
    assert group.events.get(state="READ").detail == "feishu: read by 5 users"
    assert fake.page_size_seen == [2, 2, 2]


def test_each_pull_is_bounded_and_continues_where_the_last_stopped(account, fake):
    messages = sent(account, [f"ou_{i}" for i in range(5)])
    fake.read(messages[4].provider_message_id, "ou_4")
    asked = []

    def pull_once() -> None:
        before = len(fake.page_size_seen)
        receipts.pull(account, timezone.now(), 2)
        asked.append(len(fake.page_size_seen) - before)

    pull_once()  # messages 0, 1
    pull_once()  # 2, 3
    assert states(messages)[4] == "SENT"
    pull_once()  # 4, then wraps to 0
    assert asked == [2, 2, 2]
    assert states(messages) == ["SENT"] * 4 + ["READ"]


def test_old_and_too_recent_messages_are_not_asked_about(account, fake, settings):
    settings.TIDINGS_RECEIPT_PULL_HOURS = 24 * 30
    old = sent(account, ["ou_old"], minutes_ago=8 * 24 * 60)  # beyond Feishu's 7 days
    fresh = sent(account, ["ou_new"], minutes_ago=0)
    receipts.pull(account, timezone.now(), 10)
    assert fake.page_size_seen == []
    assert states(old + fresh) == ["SENT", "SENT"]


def test_a_recalled_message_is_skipped(account, fake):
    gone, read = sent(account, ["ou_a", "ou_b"])
    fake.read(read.provider_message_id, "ou_b")
    fake.faults += [Reply(status=400, body={"code": 230011, "msg": "The message is recalled."})]
    receipts.pull(account, timezone.now(), 10)
    assert states([gone, read]) == ["SENT", "READ"]


def test_an_outage_keeps_what_was_learnt_and_the_beat_goes_on(account, fake):
    first, second = sent(account, ["ou_a", "ou_b"])
    fake.read(first.provider_message_id, "ou_a")
    fake.read(second.provider_message_id, "ou_b")
    fake.faults += [None, Reply(status=503, body={"code": 1, "msg": "busy"})]
    with pytest.raises(DeliveryError):
        receipts.pull(account, timezone.now(), 10)
    assert states([first, second]) == ["READ", "SENT"]

    fake.faults += [Reply(status=503, body={"code": 1, "msg": "busy"})]
    totals = receipts_pull()
    assert (totals["errors"], totals["accounts"]) == (1, 0)
    assert receipts_pull()["moved"] == 1
    assert states([first, second]) == ["READ", "READ"]


def test_an_absurd_read_time_is_read_now(account, fake):
    [message] = sent(account, ["ou_a"])
    fake.read(message.provider_message_id, "ou_a", at=1e30)
    receipts.pull(account, timezone.now(), 10)
    event = message.events.get(state="READ")
    assert abs((event.at - timezone.now()).total_seconds()) < 60
