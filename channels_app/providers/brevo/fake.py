"""Brevo's /v3/smtp/email: the `api-key` header, sender + to + subject + a content required,
201 {"messageId": "<…@smtp-relay.mailin.fr>"}; errors {"code", "message"} (401
unauthorized, 400 missing_parameter). Webhooks: `delivered` / `hard_bounce` events."""

from __future__ import annotations

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

API_KEY = "xkeysib-0123456789abcdef0123456789abcdef-brevo1"


class FakeBrevo(EspFake):
    api_root = "/v3"
    path = "/smtp/email"
    config = {"api_key": API_KEY, "from_email": "Acme <news@acme.test>"}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("api-key") == API_KEY

    def invalid_status(self) -> int:
        return 400

    def refused(self, status: int, message: str) -> Reply:
        code = "unauthorized" if status == 401 else "missing_parameter"
        return Reply(status=status, body={"code": code, "message": message})

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "body must be an object"
        return require(payload, "sender.email", "to", "subject") or (
            None
            if payload.get("textContent") or payload.get("htmlContent")
            else "textContent or htmlContent is required"
        )

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        message_id = f"<2026112710{serial:04d}.1234567@smtp-relay.mailin.fr>"
        email = AcceptedEmail(
            to=payload["to"][0]["email"],
            subject=payload["subject"],
            text=payload.get("textContent", ""),
            html=payload.get("htmlContent", ""),
            headers=header_map(payload.get("headers")),
            provider_id=message_id,
        )
        return [email], Reply(status=201, body={"messageId": message_id})

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        body: dict[str, Any] = {
            "event": "delivered" if event == "delivered" else "hard_bounce",
            "email": recipient,
            "id": 123456,
            "date": "2026-11-27 11:00:05",
            "ts": 1795777205,
            "ts_event": 1795777205,
            "ts_epoch": 1795777205000,
            "message-id": provider_id,
            "subject": "Hello",
        }
        if event != "delivered":
            body["reason"] = "550 5.1.1 mailbox unavailable"
        return WebhookCall(json.dumps(body).encode())
