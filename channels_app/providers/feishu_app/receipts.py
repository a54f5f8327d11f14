"""Read state of app-bot messages, pulled: GET /open-apis/im/v1/messages/{message_id}/
read_users (tenant token; only this bot's messages of the last 7 days, one message a call,
1000 calls a minute) lists who read it -> READ. Feishu offers no delivery signal: a message
stays SENT until someone reads it.

Each pull takes at most `limit` of the account's SENT messages, continuing after where the
previous pull stopped (a cursor in the cache) and wrapping around, so messages nobody reads
do not keep the newer ones from being looked at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError
from channels_app.providers.feishu_app.adapter import FeishuAppAdapter
from channels_app.providers.receipts import Receipt
from tracking.models import Message, MessageState
from tracking.receipts.base import receipts_apply

READ_WINDOW = timedelta(days=7)  # Feishu answers read state for a week
PAGE_SIZE = 100
MAX_PAGES = 5  # 500 readers of one group message are plenty to know it was read
# The message can no longer be asked about: invalid / recalled / deleted, or the bot left.
GONE = frozenset({"230001", "230002", "230011", "230110"})
# Per pull and account: one call a message, well under Feishu's 1000 a minute per app (which
# the sends share), whatever TIDINGS_RECEIPT_PULL_LIMIT allows the SMS providers.
MAX_PER_PULL = 200


def _cursor_key(account_id: int) -> str:
    return f"tidings:feishu-read-cursor:{account_id}"


def pending(account: ChannelAccount, now: datetime, limit: int) -> list[tuple[Any, ...]]:
    """Up to `limit` SENT messages to ask about, after the cursor, then from the oldest."""
    window = min(timedelta(hours=settings.TIDINGS_RECEIPT_PULL_HOURS), READ_WINDOW)
    candidates = (
        Message.objects.filter(
            account_id=account.pk,
            state=MessageState.SENT,
            sent_at__gte=now - window,
            sent_at__lte=now - timedelta(seconds=settings.TIDINGS_RECEIPT_PULL_DELAY_SECONDS),
        )
        .exclude(provider_message_id="")
        .order_by("sent_at", "id")
    )
    fields = ("id", "provider_message_id", "receiver", "sent_at")
    cursor = cache.get(_cursor_key(account.pk))
    batch: list[tuple[Any, ...]] = []
    if cursor:
        at, pk = datetime.fromisoformat(cursor[0]), cursor[1]
        after = candidates.filter(Q(sent_at__gt=at) | Q(sent_at=at, id__gt=pk))
        batch = list(after.values_list(*fields)[:limit])
    if len(batch) < limit:  # wrap around
        seen = {row[0] for row in batch}
        batch += [
            row for row in candidates.values_list(*fields)[: limit - len(batch)]
            if row[0] not in seen
        ]  # fmt: skip
    return batch


def readers(adapter: FeishuAppAdapter, message_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page_token = ""
    for _ in range(MAX_PAGES):
        params = {"user_id_type": "open_id", "page_size": PAGE_SIZE}
        if page_token:
            params["page_token"] = page_token
        data = adapter.call(
            "GET", f"/open-apis/im/v1/messages/{message_id}/read_users", params=params
        )
        items += [item for item in data.get("items") or [] if isinstance(item, dict)]
        page_token = str(data.get("page_token") or "")
        if not data.get("has_more") or not page_token:
            break
    return items


def read_receipt(message_id: str, receiver: str, items: list[dict[str, Any]]) -> Receipt:
    """READ at the first reader's time (milliseconds), naming how many have read it."""
    times = [int(item["timestamp"]) for item in items if str(item.get("timestamp", "")).isdigit()]
    try:
        at = datetime.fromtimestamp(min(times) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):  # none given, or absurd: now
        at = datetime.now(tz=UTC)
    detail = "feishu: read" if len(items) == 1 else f"feishu: read by {len(items)} users"
    return Receipt(message_id, MessageState.READ, at, detail, receiver)


def pull(account: ChannelAccount, now: datetime, limit: int) -> dict[str, int]:
    adapter = FeishuAppAdapter(account.config, base_url=account.base_url, account_id=account.pk)
    receipts: list[Receipt] = []
    done = None
    try:
        for row in pending(account, now, min(limit, MAX_PER_PULL)):
            pk, message_id, receiver, sent_at = row
            try:
                items = readers(adapter, message_id)
            except DeliveryError as error:
                if error.code not in GONE:
                    raise  # token, rate limit, outage: the next pull goes on from here
                items = []
            if items:
                receipts.append(read_receipt(message_id, receiver, items))
            done = (sent_at.isoformat(), pk)
    finally:
        # What was learnt before a failure is applied all the same.
        if done is not None:
            cache.set(_cursor_key(account.pk), done, int(READ_WINDOW.total_seconds()))
        result = receipts_apply(receipts, account_id=account.pk)
    return result
