"""Unisender Go's email/send.json (Web API v1): the API key in the X-API-KEY header (or the
`api_key` body field), {"message": {...}} with recipients[].email, subject, from_email and a
body.html or body.plaintext required; 200 {"status": "success", "job_id", "emails",
"failed_emails"}; errors {"status": "error", "message", "code"} (401 bad key, 400 bad
request). Webhooks: {"auth", "events_by_user": [{"events": [{"event_name":
"transactional_email_status", "event_data": {...}}]}]} where `auth` is the MD5 of the body
written with the API key in its place."""

from __future__ import annotations

import hashlib
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

API_KEY = "6ufakeunisendergo0123456789abcdefghij"


class FakeUnisenderGo(EspFake):
    api_root = "/ru/transactional/api/v1"
    path = "/email/send.json"
    config = {"api_key": API_KEY, "from_email": "Acme <news@acme.test>"}
    # The webhook's `auth` is checked against the key of the account that registered it.
    anymail_settings = {"UNISENDER_GO_API_KEY": API_KEY}

    def __init__(self) -> None:
        super().__init__()
        # provider id -> (job_id, the metadata Unisender Go echoes in its webhooks)
        self.sent: dict[str, tuple[str, dict[str, str]]] = {}
        # address -> reason Unisender Go lists it under failed_emails (e.g. "unsubscribed")
        self.failed_emails: dict[str, str] = {}

    def authorized(self, request: Recorded) -> bool:
        if request.headers.get("x-api-key") == API_KEY:
            return True
        try:
            return request.json.get("api_key") == API_KEY
        except (ValueError, AttributeError):
            return False

    def invalid_status(self) -> int:
        return 400

    def refused(self, status: int, message: str) -> Reply:
        code = 102 if status == 401 else 204
        return Reply(status=status, body={"status": "error", "message": message, "code": code})

    def check(self, payload: Any) -> str | None:
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, dict):
            return "message is required"
        problem = require(message, "recipients", "subject", "from_email")
        if problem:
            return f"message.{problem}"
        if not all(isinstance(r, dict) and r.get("email") for r in message["recipients"]):
            return "message.recipients[].email is required"
        body = message.get("body") or {}
        if not (body.get("html") or body.get("plaintext") or message.get("template_id")):
            return "message.body.html or message.body.plaintext is required"
        return None

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        message = payload["message"]
        job_id = f"1ZymBc-{serial:06d}-9X"
        emails = []
        for recipient in message["recipients"]:
            if recipient["email"] in self.failed_emails:
                continue  # answered 200, listed under failed_emails, not sent
            metadata = {
                **(message.get("global_metadata") or {}),
                **(recipient.get("metadata") or {}),
            }
            # anymail's per-recipient id when it sent one, else the job id (as anymail reads it).
            provider_id = str(metadata.get("anymail_id") or job_id)
            self.sent[provider_id] = (job_id, metadata)
            emails.append(
                AcceptedEmail(
                    to=recipient["email"],
                    subject=message["subject"],
                    text=(message.get("body") or {}).get("plaintext", ""),
                    html=(message.get("body") or {}).get("html", ""),
                    headers=header_map(message.get("headers")),
                    provider_id=provider_id,
                )
            )
        body = {"status": "success", "job_id": job_id,
                "emails": [e.to for e in emails], "failed_emails": {
                    r["email"]: self.failed_emails[r["email"]]
                    for r in message["recipients"] if r["email"] in self.failed_emails}}  # fmt: skip
        return emails, Reply(body=body)

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        job_id, metadata = self.sent.get(provider_id, (provider_id, {}))
        data: dict[str, Any] = {
            "job_id": job_id,
            "metadata": metadata,
            "email": recipient,
            "status": "delivered" if event == "delivered" else "hard_bounced",
            "event_time": "2026-11-27 10:00:05",
        }
        if event != "delivered":
            data["delivery_info"] = {
                "delivery_status": "err_user_unknown",
                "destination_response": "550 5.1.1 no such user",
            }
        events = [{"event_name": "transactional_email_status", "event_data": data}]
        # Unisender Go writes the body with the key in `auth`, then puts the MD5 there.
        with_key = json.dumps(
            {"auth": API_KEY, "events_by_user": [{"user_id": 456, "events": events}]}  # fmt: skip
        ).encode()
        auth = hashlib.md5(with_key).hexdigest()  # noqa: S324 - Unisender Go's scheme
        return WebhookCall(with_key.replace(API_KEY.encode(), auth.encode()))
