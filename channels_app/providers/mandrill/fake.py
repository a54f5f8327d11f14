"""Mandrill's messages/send.json: the key in the JSON body, message.to + subject + a body
required; 200 [{"email", "status": "sent", "_id", "reject_reason"}]; every error is HTTP 500
{"status": "error", "code", "name", "message"} (Invalid_Key, ValidationError). Webhooks: a
form field `mandrill_events` (JSON array) signed with X-Mandrill-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any
from urllib.parse import urlencode

from channels_app.providers.esp_fakes import (
    AcceptedEmail,
    EspFake,
    WebhookCall,
    header_map,
    require,
)
from channels_app.providers.fakes_http import Recorded, Reply

API_KEY = "md-0123456789abcdefABCDEF"
WEBHOOK_KEY = "whk0123456789abcdefghij"


class FakeMandrill(EspFake):
    api_root = "/api/1.0"
    path = "/messages/send.json"
    config = {"api_key": API_KEY, "from_email": "news@acme.test"}
    anymail_settings = {"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY}
    auth_status = 500
    delivered_state = "READ"  # no delivery event: the "delivered" call is an open

    def authorized(self, request: Recorded) -> bool:
        try:
            return request.json.get("key") == API_KEY
        except (ValueError, AttributeError):
            return False

    def invalid_status(self) -> int:
        return 500

    def refused(self, status: int, message: str) -> Reply:
        name = "Invalid_Key" if message == "invalid credentials" else "ValidationError"
        return Reply(
            status=500, body={"status": "error", "code": -1, "name": name, "message": message}
        )

    def check(self, payload: Any) -> str | None:
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, dict):
            return "message is required"
        return require(message, "from_email", "to", "subject") or (
            None if message.get("text") or message.get("html") else "text or html is required"
        )

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        message = payload["message"]
        emails, results = [], []
        for recipient in message["to"]:
            message_id = uuid.uuid4().hex
            emails.append(
                AcceptedEmail(
                    to=recipient["email"],
                    subject=message["subject"],
                    text=message.get("text", ""),
                    html=message.get("html", ""),
                    headers=header_map(message.get("headers")),
                    provider_id=message_id,
                )
            )
            results.append(
                {"email": recipient["email"], "status": "sent", "_id": message_id,
                 "reject_reason": None}
            )  # fmt: skip
        return emails, Reply(body=results)

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        msg: dict[str, Any] = {"_id": provider_id, "email": recipient, "ts": 1795777200,
                               "subject": "Hello", "metadata": {}, "tags": []}  # fmt: skip
        if event == "delivered":
            record = {"event": "open", "_id": provider_id, "ts": 1795777205, "msg": msg}
        else:
            msg.update(state="bounced", bounce_description="bad_mailbox",
                       diag="smtp;550 5.1.1 The email account does not exist")  # fmt: skip
            record = {"event": "hard_bounce", "_id": provider_id, "ts": 1795777205, "msg": msg}
        events = json.dumps([record])
        signed = url + "mandrill_events" + events
        digest = hmac.new(WEBHOOK_KEY.encode(), signed.encode(), hashlib.sha1).digest()
        return WebhookCall(
            urlencode({"mandrill_events": events}).encode(),
            "application/x-www-form-urlencoded",
            {"X-Mandrill-Signature": base64.b64encode(digest).decode()},
        )
