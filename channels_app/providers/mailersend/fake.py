"""MailerSend's POST /v1/email: Bearer mlsn.… token, from.email + to + subject + a body
required; 202 with an empty body and the X-Message-Id header; errors {"message", "errors"}
(401 Unauthenticated, 422 validation). Webhooks: {"type": "activity.<x>", "data": {"type",
"email": {"message": {"id"}, "recipient": {"email"}}}} with Signature = HMAC-SHA256 hex."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from channels_app.providers.esp_fakes import (
    AcceptedEmail,
    EspFake,
    WebhookCall,
    header_map,
    require,
)
from channels_app.providers.fakes_http import Recorded, Reply

API_TOKEN = "mlsn.0123456789abcdef0123456789abcdef"
SIGNING_SECRET = "mailersend-fake-signing-secret-0123"


class FakeMailerSend(EspFake):
    api_root = "/v1"
    path = "/email"
    config = {"api_token": API_TOKEN, "from_email": "Acme <news@acme.test>"}
    anymail_settings = {"MAILERSEND_SIGNING_SECRET": SIGNING_SECRET}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {API_TOKEN}"

    def refused(self, status: int, message: str) -> Reply:
        if status == 401:
            return Reply(status=401, body={"message": "Unauthenticated."})
        return Reply(
            status=status,
            body={"message": "The given data was invalid.", "errors": {"body": [message]}},
        )

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "invalid body"
        return require(payload, "from.email", "to", "subject") or (
            None if payload.get("text") or payload.get("html") else "text or html is required"
        )

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        message_id = f"6372c4e5fa3f{serial:012x}"
        email = AcceptedEmail(
            to=payload["to"][0]["email"],
            subject=payload["subject"],
            text=payload.get("text", ""),
            html=payload.get("html", ""),
            headers=header_map(payload.get("headers")),
            provider_id=message_id,
        )
        headers = {"X-Message-Id": message_id, "Content-Type": "text/plain; charset=utf-8"}
        return [email], Reply(status=202, body=b"", headers=headers)

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        kind = "delivered" if event == "delivered" else "hard_bounced"
        data: dict[str, Any] = {
            "id": f"62f9{provider_id[-8:]}",
            "type": kind,
            "created_at": "2026-11-27T10:00:05.000000Z",
            "email": {
                "id": f"62fb{provider_id[-8:]}",
                "status": kind,
                "subject": "Hello",
                "tags": None,
                "message": {"id": provider_id},
                "recipient": {"email": recipient},
            },
        }
        if event != "delivered":
            data["morph"] = {"object": "recipient_bounce", "reason": "550 5.1.1 no such user"}
        body = json.dumps({"type": f"activity.{kind}", "created_at": data["created_at"],
                           "data": data}).encode()  # fmt: skip
        signature = hmac.new(SIGNING_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return WebhookCall(body, headers={"Signature": signature})
