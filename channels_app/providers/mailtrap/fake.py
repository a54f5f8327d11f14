"""Mailtrap's POST /api/send: the token in `Api-Token` (or `Authorization: Bearer`),
from.email + to + subject + text or html required; 200 {"success": true, "message_ids":
[one per recipient]}; errors {"success": false, "errors": [...]} (401 Unauthorized, 400
validation). Webhooks: {"events": [{"event": "delivery" | "bounce" | …, "message_id",
"email", "timestamp", "event_id", …}]} with Mailtrap-Signature = HMAC-SHA256 hex of the body."""

from __future__ import annotations

import hashlib
import hmac
import json
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

API_TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
SIGNING_SECRET = "mailtrap-fake-webhook-signing-secret"


class FakeMailtrap(EspFake):
    api_root = "/api"
    path = "/send"
    config = {"api_token": API_TOKEN, "from_email": "Acme <news@acme.test>"}
    anymail_settings = {"MAILTRAP_TRACKING_SECRET": SIGNING_SECRET}

    def __init__(self) -> None:
        super().__init__()
        self.custom_variables: dict[str, dict[str, str]] = {}

    def authorized(self, request: Recorded) -> bool:
        return (
            request.headers.get("api-token") == API_TOKEN
            or request.headers.get("authorization") == f"Bearer {API_TOKEN}"
        )

    def invalid_status(self) -> int:
        return 400

    def refused(self, status: int, message: str) -> Reply:
        text = "Unauthorized" if status == 401 else message
        return Reply(status=status, body={"success": False, "errors": [text]})

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "body must be an object"
        problem = require(payload, "from.email", "to", "subject")
        if problem:
            return problem
        if not all(isinstance(r, dict) and r.get("email") for r in payload["to"]):
            return "to[].email is required"
        if not (payload.get("text") or payload.get("html")):
            return "text or html is required"
        return None

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        recipients = [*payload["to"], *payload.get("cc", []), *payload.get("bcc", [])]
        emails, ids = [], []
        for recipient in recipients:
            message_id = str(uuid.uuid4())
            ids.append(message_id)
            self.custom_variables[message_id] = dict(payload.get("custom_variables") or {})
            emails.append(
                AcceptedEmail(
                    to=recipient["email"],
                    subject=payload["subject"],
                    text=payload.get("text", ""),
                    html=payload.get("html", ""),
                    headers=header_map(payload.get("headers")),
                    provider_id=message_id,
                )
            )
        return emails, Reply(body={"success": True, "message_ids": ids})

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        record: dict[str, Any] = {
            "event": "delivery" if event == "delivered" else "bounce",
            "message_id": provider_id,
            "sending_stream": "transactional",
            "email": recipient,
            "timestamp": 1795777205,
            "event_id": str(uuid.uuid4()),
            "category": "welcome",
            "custom_variables": self.custom_variables.get(provider_id, {}),
        }
        if event != "delivered":
            record.update(response="bounced (550 5.1.1 no such user)", response_code=550,
                          bounce_category="hard")  # fmt: skip
        body = json.dumps({"events": [record]}).encode()
        signature = hmac.new(SIGNING_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return WebhookCall(body, headers={"Mailtrap-Signature": signature})
