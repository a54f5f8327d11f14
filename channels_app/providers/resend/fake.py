"""Resend's POST /emails: Bearer re_… key, from + to + subject + a body required;
200 {"id": "<uuid>"}; errors {"statusCode", "name", "message"} (401 invalid key,
422 validation_error). Webhooks: {"type": "email.delivered" | "email.bounced", "created_at",
"data": {"email_id", "to", …}} signed the Svix way (HMAC-SHA256 of "id.timestamp.body")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from channels_app.providers.esp_fakes import (
    AcceptedEmail,
    EspFake,
    WebhookCall,
    header_map,
    require,
)
from channels_app.providers.fakes_http import Recorded, Reply

API_KEY = "re_fake0123456789_resendkey"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"tidings-resend-fake-signing-key!!").decode()


class FakeResend(EspFake):
    path = "/emails"
    config = {"api_key": API_KEY, "from_email": "Acme <news@acme.test>"}
    anymail_settings = {"RESEND_SIGNING_SECRET": SIGNING_SECRET}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {API_KEY}"

    def refused(self, status: int, message: str) -> Reply:
        name = "validation_error" if status == 422 else "invalid_api_key"
        return Reply(status=status, body={"statusCode": status, "name": name, "message": message})

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "Invalid body"
        return require(payload, "from", "to", "subject") or (
            None if payload.get("text") or payload.get("html") else "Missing `text` or `html`"
        )

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        email_id = str(uuid.uuid4())
        to = payload["to"]
        email = AcceptedEmail(
            to=to[0] if isinstance(to, list) else to,
            subject=payload["subject"],
            text=payload.get("text", ""),
            html=payload.get("html", ""),
            headers=header_map(payload.get("headers")),
            provider_id=email_id,
        )
        return [email], Reply(body={"id": email_id})

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        data: dict[str, Any] = {
            "created_at": "2026-11-27T10:00:00.000Z",
            "email_id": provider_id,
            "from": "Acme <news@acme.test>",
            "to": [recipient],
            "subject": "Hello",
        }
        if event != "delivered":
            data["bounce"] = {"message": "The recipient's email provider sent a bounce message."}
        body = json.dumps(
            {
                "type": "email.delivered" if event == "delivered" else "email.bounced",
                "created_at": "2026-11-27T10:00:05.000Z",
                "data": data,
            }
        ).encode()
        svix_id, timestamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
        key = base64.b64decode(SIGNING_SECRET.removeprefix("whsec_"))
        signed = f"{svix_id}.{timestamp}.".encode() + body
        signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        headers = {
            "svix-id": svix_id,
            "svix-timestamp": timestamp,
            "svix-signature": f"v1,{signature}",
        }
        return WebhookCall(body, headers=headers)
