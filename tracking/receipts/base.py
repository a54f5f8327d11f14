"""Matching receipts to messages and moving them forward."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_app.models import ChannelAccount
from tracking.models import Message
from tracking.services import Advance, messages_advance_many

CHINA = ZoneInfo("Asia/Shanghai")


class ReceiptRejected(Exception):
    """A pushed receipt we refuse (not authentic or not well-formed): answered as 4xx JSON
    with `status`, nothing is written."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


def local_time(value: Any, zone: ZoneInfo = CHINA) -> datetime:
    """ "2024-01-02 03:04:05" in the provider's zone (or ISO 8601); now when missing."""
    if not value:
        return timezone.now()
    parsed = parse_datetime(str(value).replace("/", "-"))
    if parsed is None:
        return timezone.now()
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=zone)


class Receipt(NamedTuple):
    provider_message_id: str
    state: str  # a MessageState after SENT
    at: datetime
    detail: str = ""
    # Set when one provider id covers several receivers (one call to many numbers/users).
    receiver: str = ""


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
