"""Matching receipts to messages and moving them forward."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings

from channels_app.models import ChannelAccount
from channels_app.providers.receipts import Receipt
from tracking.models import Message, MessageState
from tracking.services import Advance, messages_advance_many

__all__ = ["Receipt", "messages_awaiting_receipt", "receipt_token", "receipts_apply"]


def receipt_token(account_id: int) -> str:
    """The secret path segment of an account's receipt URL, for providers that don't sign
    their callbacks. Derived from SECRET_KEY: nothing to store, and it never leaves the
    admin / the App's own API."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"tidings-receipt:{account_id}".encode(), hashlib.sha256).hexdigest()[:32]


def receipt_token_valid(account_id: int, token: str) -> bool:
    return hmac.compare_digest(receipt_token(account_id), token)


def receipt_url(account: ChannelAccount) -> str:
    base = settings.TIDINGS_PUBLIC_URL.rstrip("/")
    return f"{base}/r/{account.provider}/{account.pk}/{receipt_token(account.pk)}"


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


_PHONE = re.compile(r"\+?[\d\s\-()]{7,}")


def _same_receiver(stored: str, reported: str) -> bool:
    """Phone numbers come back in other shapes (+86..., 86..., bare): compare the digits,
    allowing a country code on either side; anything else (push cids, userids with
    letters) compares exactly, so two ids that merely share digits never match."""
    a, b = _digits(stored), _digits(reported)
    phones = _PHONE.fullmatch(stored.strip()) and _PHONE.fullmatch(reported.strip())
    if phones and len(a) >= 7 and len(b) >= 7:
        return a.endswith(b) or b.endswith(a)
    return stored.strip().lower() == reported.strip().lower()


def receipts_apply(
    receipts: list[Receipt], *, account_id: int | None = None, channel: str | None = None
) -> dict[str, int]:
    """Match receipts to messages (of one account, or of one channel for global webhooks)
    and move each matched message forward; returns counts for the caller's answer/log."""
    receipts = [r for r in receipts if r.provider_message_id]
    if not receipts:
        return {"received": 0, "matched": 0, "moved": 0}
    candidates = Message.objects.filter(
        provider_message_id__in={r.provider_message_id for r in receipts}
    )
    if account_id is not None:
        candidates = candidates.filter(account_id=account_id)
    if channel is not None:
        candidates = candidates.filter(channel=channel)
    by_provider_id: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pk, provider_id, receiver in candidates.values_list(
        "id", "provider_message_id", "receiver"
    ):
        by_provider_id[provider_id].append((pk, receiver))
    advances: list[Advance] = []
    for receipt in receipts:
        found = by_provider_id.get(receipt.provider_message_id, [])
        if receipt.receiver and len(found) > 1:
            found = [(pk, r) for pk, r in found if _same_receiver(r, receipt.receiver)]
        advances.extend(Advance(pk, receipt.state, receipt.at, receipt.detail) for pk, _ in found)
    moved = messages_advance_many(advances)
    return {"received": len(receipts), "matched": len(advances), "moved": len(moved)}


def messages_awaiting_receipt(
    account_id: int, now: datetime, limit: int
) -> list[tuple[str, str, datetime]]:
    """(provider id, receiver, sent_at) of an account's messages still SENT, oldest first:
    sent within TIDINGS_RECEIPT_PULL_HOURS and at least TIDINGS_RECEIPT_PULL_DELAY_SECONDS
    ago (what a polling provider's pull asks about)."""
    window = timedelta(hours=settings.TIDINGS_RECEIPT_PULL_HOURS)
    pending = Message.objects.filter(
        account_id=account_id,
        state=MessageState.SENT,
        sent_at__gte=now - window,
        sent_at__lte=now - timedelta(seconds=settings.TIDINGS_RECEIPT_PULL_DELAY_SECONDS),
    ).exclude(provider_message_id="")
    rows = pending.order_by("sent_at").values_list("provider_message_id", "receiver", "sent_at")
    return [(pid, receiver, sent_at) for pid, receiver, sent_at in rows[:limit] if sent_at]
