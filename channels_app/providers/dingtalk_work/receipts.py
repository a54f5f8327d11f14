"""DingTalk work-notice receipts, pulled: DingTalk pushes none for work notices.

Per task (the asyncsend_v2 `task_id`, our provider message id): first
`topapi/message/corpconversation/getsendprogress` — until its status is 2 (完毕) the lists
are incomplete — then `getsendresult` {agent_id, task_id}, whose `send_result` lists the
receivers by outcome. Per receiver (userid):
  read_user_id_list → DELIVERED then READ;  unread_user_id_list → DELIVERED;
  failed / invalid / forbidden (rate-limited by DingTalk, `forbidden_list` has the code)
  → UNDELIVERED with that reason.
DingTalk answers for tasks created in the last 24 hours only, so that is the window; a
task drops out of the poll once none of its messages can still move (all READ or
UNDELIVERED, or later) or once it is older than the window. Each pull asks about at most
`limit` tasks, round-robin from a cursor kept in the cache, so a backlog of unread tasks
cannot starve the newer ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Min

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError
from channels_app.providers.dingtalk_work.adapter import DingTalkWorkAdapter
from channels_app.providers.receipts import Receipt
from tracking.models import Message, MessageState
from tracking.receipts.base import receipts_apply

PROGRESS_PATH = "/topapi/message/corpconversation/getsendprogress"
RESULT_PATH = "/topapi/message/corpconversation/getsendresult"
WINDOW = timedelta(hours=24)  # DingTalk: only tasks created within the last 24 hours
DONE = 2  # getsendprogress status: 0 not started, 1 in progress, 2 finished
FAILED_LISTS = {
    "failed_user_id_list": "dingtalk: send failed",
    "invalid_user_id_list": "dingtalk: invalid userid",
    "forbidden_user_id_list": "dingtalk: not sent, over DingTalk's per-user limits",
}


def send_result_receipts(task_id: str, result: dict[str, Any], at: datetime) -> list[Receipt]:
    """One task's `send_result` as receipts, one or two per receiver."""
    receipts: list[Receipt] = []

    def users(name: str) -> list[str]:
        value = result.get(name) or []
        return [str(user) for user in value] if isinstance(value, list) else []

    for user in users("read_user_id_list"):
        receipts.append(Receipt(task_id, MessageState.DELIVERED, at, "dingtalk: delivered", user))
        receipts.append(Receipt(task_id, MessageState.READ, at, "dingtalk: read", user))
    for user in users("unread_user_id_list"):
        receipts.append(
            Receipt(task_id, MessageState.DELIVERED, at, "dingtalk: delivered, unread", user)
        )
    codes = {
        str(item.get("userid")): str(item.get("code") or "")
        for item in result.get("forbidden_list") or []
        if isinstance(item, dict)
    }
    for name, reason in FAILED_LISTS.items():
        for user in users(name):
            detail = f"{reason} (code {codes[user]})" if codes.get(user) else reason
            receipts.append(Receipt(task_id, MessageState.UNDELIVERED, at, detail, user))
    return receipts


def pending_tasks(account: ChannelAccount, now: datetime, limit: int) -> list[str]:
    """Task ids of this account with a message that can still move, in the window, from the
    cursor on (wrapping around once the end is reached)."""
    delay = timedelta(seconds=settings.TIDINGS_RECEIPT_PULL_DELAY_SECONDS)
    tasks = (
        Message.objects.filter(
            account_id=account.pk,
            state__in=[MessageState.SENT, MessageState.DELIVERED],
            sent_at__gte=now - WINDOW,
            sent_at__lte=now - delay,
        )
        .exclude(provider_message_id="")
        .values("provider_message_id")
        .annotate(first=Min("sent_at"))
    )
    key = f"tidings:dingtalk-receipts:cursor:{account.pk}"
    cursor = cache.get(key)
    rows = list(
        (tasks.filter(first__gt=cursor) if cursor else tasks)
        .order_by("first")
        .values_list("provider_message_id", "first")[:limit]
    )
    # A short page means the end was reached: start from the oldest next time.
    cache.set(key, rows[-1][1] if len(rows) == limit else None, WINDOW.total_seconds())
    return [task_id for task_id, _ in rows]


def task_receipts(adapter: DingTalkWorkAdapter, task_id: str, now: datetime) -> list[Receipt]:
    body = {"agent_id": adapter.config["agent_id"], "task_id": int(task_id)}
    progress = adapter.call(PROGRESS_PATH, body).get("progress") or {}
    if progress.get("status") != DONE:
        return []  # DingTalk is still sending: the lists are not complete yet
    result = adapter.call(RESULT_PATH, body).get("send_result") or {}
    return send_result_receipts(task_id, result, now)


def pull(account: ChannelAccount, now: datetime, limit: int) -> dict[str, int]:
    """What was learnt is applied even when a later call fails; a task DingTalk refuses
    (permanent error) is skipped, a transient error stops this pull and is raised."""
    adapter = DingTalkWorkAdapter(account.config, base_url=account.base_url, account_id=account.pk)
    receipts: list[Receipt] = []
    stopped: DeliveryError | None = None
    for task_id in pending_tasks(account, now, limit):
        if not task_id.isdigit():
            continue  # not an asyncsend_v2 task id
        try:
            receipts.extend(task_receipts(adapter, task_id, now))
        except DeliveryError as error:
            if not error.permanent:
                stopped = error
                break
    totals = receipts_apply(receipts, account_id=account.pk)
    if stopped is not None:
        raise stopped
    return totals
