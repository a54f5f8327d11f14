"""Email receipts from django-anymail's normalized tracking webhooks (SendGrid, Mailgun,
Amazon SES): anymail verifies the ESP's signature / basic auth, then sends its `tracking`
signal, which is the only interface it offers."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from channels_app.providers.anymail_common import METADATA_KEY
from tracking.models import Message, MessageState
from tracking.receipts.base import Receipt, receipts_apply
from tracking.services import messages_advance

EVENT_STATES = {
    "delivered": MessageState.DELIVERED,
    # A complaint is only possible for a delivered message; the detail says what happened.
    "complained": MessageState.DELIVERED,
    "bounced": MessageState.UNDELIVERED,
    "rejected": MessageState.UNDELIVERED,
    "failed": MessageState.UNDELIVERED,
    "opened": MessageState.READ,
    "clicked": MessageState.CLICKED,
}


def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    state = EVENT_STATES.get(event.event_type)
    if state is None:  # queued, deferred, unsubscribed, unknown...
        return
    parts = [f"{esp_name}: {event.event_type}"]
    if event.reject_reason:
        parts.append(f"({event.reject_reason})")
    if event.description:
        parts.append(str(event.description))
    if event.event_type == "clicked" and event.click_url:
        parts.append(str(event.click_url))
    detail = " ".join(parts)[:500]
    at = event.timestamp or timezone.now()
    result = receipts_apply(
        [Receipt(str(event.message_id or ""), state, at, detail, str(event.recipient or ""))],
        channel="email",
    )
    if result["matched"]:
        return
    # No provider id (e.g. the ESP answered none at send time): our id in the metadata.
    public_id = (event.metadata or {}).get(METADATA_KEY)
    if public_id:
        pk = (
            Message.objects.filter(message_id=public_id, channel="email")
            .values_list("id", flat=True)
            .first()
        )
        if pk is not None:
            messages_advance([pk], state, at, detail)
