"""Postal's /api/v1/send/message: the X-Server-API-Key header, to + from + subject + a body
required; 200 {"status": "success", "data": {"message_id", "messages": {"<rcpt>": {"id",
"token"}}}}; errors are HTTP 200 {"status": "error", "data": {"code", "message"}}
(InvalidServerAPIKey, ValidationError). Webhooks are signed with the server's RSA key."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from channels_app.providers.esp_fakes import (
    AcceptedEmail,
    EspFake,
    WebhookCall,
    header_map,
    require,
)
from channels_app.providers.fakes_http import Recorded, Reply

API_KEY = "postalfake0123456789abcd"
_PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
PUBLIC_KEY = base64.b64encode(
    _PRIVATE_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


class FakePostal(EspFake):
    path = "/api/v1/send/message"
    config = {"api_key": API_KEY, "from_email": "Acme <news@acme.test>"}
    anymail_settings = {"POSTAL_WEBHOOK_KEY": PUBLIC_KEY}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("x-server-api-key") == API_KEY

    def refused(self, status: int, message: str) -> Reply:
        # Postal answers errors with HTTP 200 and status "error"; a bad key is "parameter
        # error" territory too, so the adapter sees it as a rejected (permanent) call.
        if status >= 500:
            return Reply(status=status, body={"status": "error", "data": {"message": message}})
        code = "InvalidServerAPIKey" if status == 401 else "ValidationError"
        return Reply(status=403 if status == 401 else 422,
                     body={"status": "parameter-error", "data": {"code": code,
                                                                  "message": message}})  # fmt: skip

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "invalid body"
        return require(payload, "to", "from", "subject") or (
            None
            if payload.get("plain_body") or payload.get("html_body")
            else "plain_body or html_body is required"
        )

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        emails, messages = [], {}
        for index, to in enumerate(payload["to"]):
            message_id = serial * 1000 + index
            emails.append(
                AcceptedEmail(
                    to=to,
                    subject=payload["subject"],
                    text=payload.get("plain_body", ""),
                    html=payload.get("html_body", ""),
                    headers=header_map(payload.get("headers")),
                    provider_id=str(message_id),
                )
            )
            messages[to] = {"id": message_id, "token": f"tok{message_id}"}
        data = {"message_id": f"<{serial}@postal.acme.test>", "messages": messages}
        return emails, Reply(body={"status": "success", "time": 0.05, "flags": {}, "data": data})

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        status = "Sent" if event == "delivered" else "HardFail"
        body = json.dumps(
            {
                "event": "MessageSent" if event == "delivered" else "MessageDeliveryFailed",
                "timestamp": 1795777205.5,
                "uuid": f"0d4b4b3a-{provider_id}",
                "payload": {
                    "status": status,
                    "details": "Message for " + recipient,
                    "output": "250 OK" if event == "delivered" else "550 5.1.1 no such user",
                    "time": 0.2,
                    "sent_with_ssl": True,
                    "timestamp": 1795777205.5,
                    "message": {"id": int(provider_id), "token": f"tok{provider_id}",
                                "direction": "outgoing", "to": recipient,
                                "from": "news@acme.test", "subject": "Hello", "tag": None},
                },
            }
        ).encode()  # fmt: skip
        signature = _PRIVATE_KEY.sign(body, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - Postal's scheme
        return WebhookCall(
            body, headers={"X-Postal-Signature": base64.b64encode(signature).decode()}
        )
