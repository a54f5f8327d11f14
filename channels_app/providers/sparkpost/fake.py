"""SparkPost's /api/v1/transmissions/: the API key as the Authorization header, recipients
+ content.from + content.subject + a body required; 200 {"results": {"id",
"total_accepted_recipients", "total_rejected_recipients"}}; errors {"errors": [{"message",
"code"}]} (401, 422). Webhooks: arrays of {"msys": {"message_event": {...}}}."""

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

API_KEY = "0123456789abcdef0123456789abcdef01234567"


class FakeSparkPost(EspFake):
    api_root = "/api/v1"
    path = "/transmissions/"
    config = {"api_key": API_KEY, "from_email": "Acme <news@acme.test>"}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == API_KEY

    def refused(self, status: int, message: str) -> Reply:
        code = "1902" if status == 401 else "1400"
        return Reply(status=status, body={"errors": [{"message": message, "code": code}]})

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "invalid data format/type"
        return require(payload, "recipients", "content.from", "content.subject") or (
            None
            if (payload["content"].get("text") or payload["content"].get("html"))
            else "content.text or content.html is required"
        )

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        transmission_id = str(11668787484950529 + serial)
        content = payload["content"]
        emails = [
            AcceptedEmail(
                to=recipient["address"]["email"] if isinstance(recipient["address"], dict)
                else recipient["address"],
                subject=content["subject"],
                text=content.get("text", ""),
                html=content.get("html", ""),
                headers=header_map(content.get("headers")),
                provider_id=transmission_id,
            )
            for recipient in payload["recipients"]
        ]  # fmt: skip
        results = {
            "id": transmission_id,
            "total_accepted_recipients": len(emails),
            "total_rejected_recipients": 0,
        }
        return emails, Reply(body={"results": results})

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        message_event: dict[str, Any] = {
            "type": "delivery" if event == "delivered" else "bounce",
            "transmission_id": provider_id,
            "rcpt_to": recipient,
            "raw_rcpt_to": recipient,
            "timestamp": "1795777205",
            "event_id": f"9234{provider_id[-6:]}",
            "rcpt_meta": {},
        }
        if event != "delivered":
            message_event.update(
                bounce_class="10",
                reason="550 5.1.1 <" + recipient + ">: Recipient address rejected",
                raw_reason="550 5.1.1 Recipient address rejected",
            )
        return WebhookCall(json.dumps([{"msys": {"message_event": message_event}}]).encode())
