"""Postmark's /email endpoint: X-Postmark-Server-Token, From/To/Subject and a body required,
answers {"To", "SubmittedAt", "MessageID", "ErrorCode": 0, "Message": "OK"}; errors carry
Postmark's ErrorCode (10 bad token, 300 invalid request). Webhooks: Delivery and Bounce
records as Postmark posts them."""

from __future__ import annotations

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

TOKEN = "a1b2c3d4-0000-4000-8000-postmark0001"


class FakePostmark(EspFake):
    path = "/email"
    config = {"server_token": TOKEN, "from_email": "Acme <news@acme.test>"}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("x-postmark-server-token") == TOKEN

    def refused(self, status: int, message: str) -> Reply:
        code = 10 if status == 401 else 300
        return Reply(status=status, body={"ErrorCode": code, "Message": message})

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "Invalid email request"
        return require(payload, "From", "To", "Subject") or (
            None if payload.get("TextBody") or payload.get("HtmlBody") else "Provide TextBody"
        )

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        message_id = str(uuid.uuid4())
        email = AcceptedEmail(
            to=payload["To"],
            subject=payload["Subject"],
            text=payload.get("TextBody", ""),
            html=payload.get("HtmlBody", ""),
            headers=header_map(payload.get("Headers")),
            provider_id=message_id,
        )
        body = {
            "To": payload["To"],
            "SubmittedAt": "2026-11-27T10:00:00.0000000Z",
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }
        return [email], Reply(body=body)

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        if event == "delivered":
            record = {
                "RecordType": "Delivery",
                "MessageID": provider_id,
                "Recipient": recipient,
                "DeliveredAt": "2026-11-27T10:00:05Z",
                "Details": "smtp;250 2.0.0 OK",
                "MessageStream": "outbound",
            }
        else:
            record = {
                "RecordType": "Bounce",
                "ID": 4323372036854775807,
                "Type": "HardBounce",
                "TypeCode": 1,
                "MessageID": provider_id,
                "Email": recipient,
                "BouncedAt": "2026-11-27T10:00:05Z",
                "Description": "The server was unable to deliver your message",
                "Details": "smtp;550 5.1.1 The email account does not exist",
                "Inactive": True,
            }
        return WebhookCall(json.dumps(record).encode())
