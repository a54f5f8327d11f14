"""In-app inbox services: per-user tokens signed for an App, and marking items read.

A token is `<app id>.<signed payload>`, signed with Django's signing (SECRET_KEY) under a
salt of its own per App, so a token made for one App never opens another App's inbox. It
carries the user id and its expiry; nothing is stored, so issuing one costs no write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction

from channels_app.models import InboxItem
from notify.models import App
from notify.validation import int_or_none
from tracking.models import MessageState
from tracking.services import messages_advance


class InvalidInboxToken(Exception):
    pass


@dataclass(frozen=True)
class InboxUser:
    app: App
    user_id: str


def _salt(app_id: int) -> str:
    return f"tidings.inbox.{app_id}"


def inbox_token_issue(app: App, user_id: str, ttl_seconds: int | None = None) -> tuple[str, int]:
    """A token for one user of the App; returns it and its expiry (Unix seconds)."""
    ttl = ttl_seconds or settings.TIDINGS_INBOX_TOKEN_SECONDS
    expires = int(time.time()) + min(ttl, settings.TIDINGS_INBOX_TOKEN_MAX_SECONDS)
    signed = signing.dumps({"u": user_id, "e": expires}, salt=_salt(app.pk), compress=False)
    return f"{app.pk}.{signed}", expires


def inbox_token_verify(token: str) -> InboxUser:
    app_part, _, signed = token.partition(".")
    app_id = int_or_none(app_part)
    if app_id is None or not signed:
        raise InvalidInboxToken("malformed token")
    try:
        payload = signing.loads(signed, salt=_salt(app_id))
    except signing.BadSignature:
        raise InvalidInboxToken("bad signature") from None
    if not isinstance(payload, dict) or payload.get("e", 0) < time.time():
        raise InvalidInboxToken("token expired")
    app = App.objects.filter(pk=app_id, is_active=True).first()
    if app is None:
        raise InvalidInboxToken("unknown app")
    return InboxUser(app, str(payload["u"]))


def inbox_items_mark_read(user: InboxUser, now: datetime, message_id: str | None = None) -> int:
    """Mark one item (by its message id) or all of a user's items read; each message that
    moves gets READ in its trace. Returns how many items were unread."""
    items = InboxItem.objects.filter(app=user.app, user_id=user.user_id, read_at__isnull=True)
    if message_id is not None:
        items = items.filter(message__message_id=message_id)
    with transaction.atomic():
        unread = list(items.select_for_update().values_list("id", "message_id"))
        if not unread:
            return 0
        InboxItem.objects.filter(id__in=[pk for pk, _ in unread]).update(read_at=now)
        messages_advance([mid for _, mid in unread], MessageState.READ, now, "read in inbox")
    return len(unread)
