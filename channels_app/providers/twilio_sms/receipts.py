"""Twilio status callbacks (form-encoded MessageSid / MessageStatus / ErrorCode), signed
with the account's auth token (X-Twilio-Signature): the receipt URL needs no token."""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.receipts import (
    DELIVERED,
    READ,
    UNDELIVERED,
    Parsed,
    Receipt,
    ReceiptRejected,
)

PUSH_SIGNED = True
STATES = {"delivered": DELIVERED, "undelivered": UNDELIVERED, "failed": UNDELIVERED, "read": READ}


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by the sorted POST params."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def parse_push(request: HttpRequest, account: ChannelAccount) -> Parsed:
    params = {key: request.POST[key] for key in request.POST}
    given = request.headers.get("X-Twilio-Signature", "")
    token = str(account.config.get("auth_token") or "")
    # Behind a proxy the URL Twilio signed is the public one.
    urls = {
        request.build_absolute_uri(),
        settings.TIDINGS_PUBLIC_URL.rstrip("/") + request.get_full_path(),
    }
    if not token or not any(
        hmac.compare_digest(twilio_signature(token, url, params), given) for url in urls
    ):
        raise ReceiptRejected("X-Twilio-Signature does not match", status=403)
    state = STATES.get(params.get("MessageStatus", ""))
    if state is None:  # queued / sending / sent: nothing new
        return [], ""
    detail = f"twilio: {params.get('MessageStatus')}"
    if params.get("ErrorCode"):
        detail += f" (error {params['ErrorCode']})"
    return [Receipt(params.get("MessageSid", ""), state, timezone.now(), detail)], ""
