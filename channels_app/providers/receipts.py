"""What a provider's `receipts.py` speaks (channels_app/providers/<kind>/receipts.py):

- `parse_push(request, account) -> (list[Receipt], answer)` parses a receipt the provider
  pushes to /r/<kind>/<account id>/<token> and gives the answer it expects; raise
  `ReceiptRejected` for a bad body. `PUSH_SIGNED = True` when the provider signs its
  callbacks (checked with the account's credentials inside parse_push): its URL then needs
  no secret token. Providers without parse_push get `parse_generic`.
- `pull(account, now, limit) -> {"received", "matched", "moved"}` polls the provider for
  receipts on beat (tracking/receipts/pull.py calls it for every enabled account).
- `ANYMAIL_WEBHOOK = AnymailWebhook(...)`: an email provider whose receipts arrive through
  django-anymail's tracking webhook (global, not per account).

The generic machinery (tracking/receipts/) matches receipts to messages and moves them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

# The states a receipt can report (tracking.models.MessageState values after SENT).
DELIVERED, UNDELIVERED, READ, CLICKED = "DELIVERED", "UNDELIVERED", "READ", "CLICKED"
CHINA = ZoneInfo("Asia/Shanghai")


class Receipt(NamedTuple):
    provider_message_id: str
    state: str  # DELIVERED, UNDELIVERED, READ or CLICKED
    at: datetime
    detail: str = ""
    # Set when one provider id covers several receivers (one call to many numbers/users).
    receiver: str = ""


class ReceiptRejected(Exception):
    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


Parsed = tuple[list[Receipt], Any]  # receipts, the answer the provider expects
Parser = Callable[[HttpRequest, Any], Parsed]


def json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise ReceiptRejected("body: not JSON") from None


def local_time(value: Any, zone: ZoneInfo = CHINA) -> datetime:
    """ "2024-01-02 03:04:05" in the provider's zone (or ISO 8601); now when missing."""
    if not value:
        return timezone.now()
    parsed = parse_datetime(str(value).replace("/", "-"))
    if parsed is None:
        return timezone.now()
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=zone)


def receipt_items(body: Any, field: str) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise ReceiptRejected(f"{field}: expected a JSON array of receipt objects")
    return body


GENERIC_STATES = {
    "delivered": DELIVERED,
    "undelivered": UNDELIVERED,
    "read": READ,
    "clicked": CLICKED,
}


def parse_generic(request: HttpRequest, account: Any) -> Parsed:
    """Any provider without a parser of its own (a gateway relaying DingTalk/WeCom read
    states, a webhook peer): {"receipts": [{"provider_message_id", "status":
    delivered|undelivered|read|clicked, "receiver"?, "at"?, "detail"?}]}."""
    body = json_body(request)
    items = body.get("receipts") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ReceiptRejected("receipts: expected a list")
    receipts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("provider_message_id"):
            raise ReceiptRejected(f"receipts[{index}].provider_message_id: required")
        state = GENERIC_STATES.get(str(item.get("status", "")).lower())
        if state is None:
            raise ReceiptRejected(f"receipts[{index}].status: one of {', '.join(GENERIC_STATES)}")
        at = parse_datetime(str(item.get("at") or "")) if item.get("at") else None
        if at is not None and timezone.is_naive(at):
            at = at.replace(tzinfo=timezone.get_current_timezone())
        receipts.append(
            Receipt(
                str(item["provider_message_id"]),
                state,
                at or timezone.now(),
                f"{account.provider}: {item.get('detail') or item['status']}"[:500],
                str(item.get("receiver") or ""),
            )
        )
    return receipts, {"ok": True}


@dataclass(frozen=True)
class AnymailWebhook:
    """An ESP whose receipts come through django-anymail's tracking webhook: a provider's
    receipts.py sets `ANYMAIL_WEBHOOK = AnymailWebhook(...)` and gets the URL
    /r/anymail/<esp>/tracking/ behind Tidings' guard (tracking/receipts/webhooks.py)."""

    esp: str  # the URL segment
    label: str  # named in refusals and logs
    view: type  # anymail's tracking webhook view class (or a subclass adding checks)
    key_setting: str = ""  # the setting a "not configured" refusal names
    # The ANYMAIL setting holding the ESP's signing key, for ESPs that sign: without it every
    # post is refused (403 webhook_not_configured) instead of being taken unsigned.
    anymail_key: str = ""
    where: str = ""  # where the URL goes at the ESP (manage.py receipt_urls)
