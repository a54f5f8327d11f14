"""DingTalk work-notice receipts pulled from getsendprogress / getsendresult."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError
from channels_app.providers.dingtalk_work import receipts
from channels_app.providers.dingtalk_work.fake import FakeDingTalkWork
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from tracking.models import Message


@pytest.fixture
def ding(db, settings, tenant):
    settings.TIDINGS_RECEIPT_PULL_DELAY_SECONDS = 0
    cache.clear()
    fake = FakeDingTalkWork()
    with FakeHTTPServer(fake) as server:
        account = ChannelAccount.objects.create(
            app=tenant, name="ding", channel="dingtalk", provider="dingtalk_work",
            base_url=server.url,
            config={"appkey": fake.appkey, "appsecret": fake.appsecret, "agent_id": fake.agent_id},
        )  # fmt: skip
        yield fake, tenant, account
    cache.clear()


def _task(fake, users: list[str]) -> int:
    task = 900000 + len(fake.task_users)
    fake.task_users[task] = users
    return task


def test_unfinished_old_and_final_tasks_are_not_asked_about(ding, sent_message):
    fake, tenant, account = ding
    sending, old, final, open_ = (_task(fake, [u]) for u in ("u1", "u2", "u3", "u4"))
    fake.in_progress = {sending}
    sent_message(account, "u1", str(sending))
    stale = sent_message(account, "u2", str(old))
    Message.objects.filter(pk=stale.pk).update(sent_at=timezone.now() - timedelta(hours=25))
    sent_message(account, "u3", str(final), state="READ")
    sent_message(account, "u4", str(open_))

    totals = receipts.pull(account, timezone.now(), limit=10)

    # still sending: progress only; older than DingTalk's 24 h and already final: not asked
    assert sorted(fake.queried) == [("progress", sending), ("progress", open_), ("result", open_)]
    assert totals["moved"] == 1
    assert Message.objects.get(receiver="u4").state == "DELIVERED"


def test_each_pull_asks_about_at_most_limit_tasks_round_robin(ding, sent_message):
    fake, tenant, account = ding
    tasks = [_task(fake, [f"u{n}"]) for n in range(3)]
    for n, task in enumerate(tasks):
        message = sent_message(account, f"u{n}", str(task))
        Message.objects.filter(pk=message.pk).update(
            sent_at=timezone.now() - timedelta(minutes=9 - n)
        )

    asked = []
    for _ in range(3):
        fake.queried.clear()
        receipts.pull(account, timezone.now(), limit=2)
        asked.append([task for kind, task in fake.queried if kind == "result"])

    # unread receivers stay pollable; the cursor moves on, then wraps to the oldest
    assert asked == [tasks[:2], tasks[2:], tasks[:2]]


def test_failed_lists_carry_their_reason(ding, sent_message):
    fake, tenant, account = ding
    task = _task(fake, ["u1", "u2", "u3"])
    fake.failed = {"u1": "invalid_user_id_list", "u2": "forbidden_user_id_list"}
    fake.read = {"u3"}
    for user in ("u1", "u2", "u3"):
        sent_message(account, user, str(task))

    receipts.pull(account, timezone.now(), limit=10)

    got = {
        m.receiver: (m.state, [e.detail for e in m.events.order_by("id")])
        for m in Message.objects.filter(account=account)
    }
    assert got == {
        "u1": ("UNDELIVERED", ["dingtalk: invalid userid"]),
        "u2": (
            "UNDELIVERED",
            ["dingtalk: not sent, over DingTalk's per-user limits (code 143106)"],
        ),
        "u3": ("READ", ["dingtalk: delivered", "dingtalk: read"]),
    }


def test_a_refused_task_is_skipped_and_a_transient_error_keeps_what_was_learnt(ding, sent_message):
    fake, tenant, account = ding
    first, second = _task(fake, ["u1"]), _task(fake, ["u2"])
    sent_message(account, "u0", "123")  # a task DingTalk does not know: 40035
    for user, task in (("u1", first), ("u2", second)):
        sent_message(account, user, str(task))
    Message.objects.filter(receiver="u0").update(sent_at=timezone.now() - timedelta(minutes=5))
    fake.read = {"u1"}
    real_result = fake._result

    def flaky(body):
        if body.get("task_id") == second:
            return Reply(status=503, body={"errcode": -1, "errmsg": "系统繁忙"})
        return real_result(body)

    fake._result = flaky

    with pytest.raises(DeliveryError):
        receipts.pull(account, timezone.now(), limit=10)

    states = dict(Message.objects.filter(account=account).values_list("receiver", "state"))
    assert states == {"u0": "SENT", "u1": "READ", "u2": "SENT"}
