"""Mailjet's Send API v3.1: HTTP basic auth (API key, secret key), Messages[] each with From,
To, Subject and a part; 200 {"Messages": [{"Status": "success", "To": [{"Email",
"MessageUUID", "MessageID", "MessageHref"}]}]}; 401 on bad keys, 400 with Errors per
message. Webhooks: arrays of `sent` / `bounce` events."""

from __future__ import annotations

import base64
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

API_KEY = "0123456789abcdef0123456789abcdef"
SECRET_KEY = "fedcba9876543210fedcba9876543210"


class FakeMailjet(EspFake):
    api_root = "/v3.1"
    path = "/send"
    config = {"api_key": API_KEY, "secret_key": SECRET_KEY, "from_email": "news@acme.test"}

    def authorized(self, request: Recorded) -> bool:
        expected = base64.b64encode(f"{API_KEY}:{SECRET_KEY}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def invalid_status(self) -> int:
        return 400

    def refused(self, status: int, message: str) -> Reply:
        if status == 401:
            return Reply(status=401, body={"ErrorMessage": message, "StatusCode": 401})
        error = {"ErrorCode": "mj-0003", "ErrorMessage": message, "StatusCode": status}
        return Reply(status=status, body={"Messages": [{"Status": "error", "Errors": [error]}]})

    def parse(self, request: Recorded) -> Any:
        """Each message with the Globals it inherits, as Mailjet applies them."""
        payload = super().parse(request)
        if isinstance(payload, dict) and isinstance(payload.get("Messages"), list):
            shared = payload.get("Globals") or {}
            payload["Messages"] = [{**shared, **message} for message in payload["Messages"]]
        return payload

    def check(self, payload: Any) -> str | None:
        messages = payload.get("Messages") if isinstance(payload, dict) else None
        if not isinstance(messages, list) or not messages:
            return "Messages is required"
        for message in messages:
            problem = require(message, "From.Email", "To", "Subject")
            if problem:
                return problem
            if not (message.get("TextPart") or message.get("HTMLPart")):
                return "TextPart or HTMLPart is required"
        return None

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        emails, results = [], []
        for index, message in enumerate(payload["Messages"]):
            message_id = 576460752303423488 + serial * 100 + index
            to = message["To"][0]["Email"]
            emails.append(
                AcceptedEmail(
                    to=to,
                    subject=message["Subject"],
                    text=message.get("TextPart", ""),
                    html=message.get("HTMLPart", ""),
                    headers=header_map(message.get("Headers")),
                    provider_id=str(message_id),
                )
            )
            recipient = {"Email": to, "MessageUUID": str(uuid.uuid4()), "MessageID": message_id}
            results.append({"Status": "success", "To": [recipient], "Cc": [], "Bcc": []})
        return emails, Reply(body={"Messages": results})

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        body: dict[str, Any] = {
            "event": "sent" if event == "delivered" else "bounce",
            "time": 1795777205,
            "MessageID": int(provider_id),
            "email": recipient,
            "mj_campaign_id": 7257,
            "mj_contact_id": 4,
            "customcampaign": "",
            "Payload": "",
        }
        if event == "delivered":
            body["smtp_reply"] = "sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)"
        else:
            body.update(hard_bounce=True, error_related_to="recipient", error="user unknown")
        return WebhookCall(json.dumps([body]).encode())
