"""Scaleway Transactional Email's POST …/regions/fr-par/emails: the secret key in
X-Auth-Token, project_id (the key's Project) + from.email + a recipient + subject + text or
html required; 200 {"emails": [one per recipient: {"id", "message_id", "project_id",
"mail_from", "mail_rcpt", "rcpt_type", "subject", "status": "sending", …}]}; errors
{"message", "type"} (401 denied_authentication, 403 permissions_denied, 400
invalid_arguments with "details"). No tracking webhook (anymail has none for Scaleway)."""

from __future__ import annotations

import uuid
from typing import Any

from channels_app.providers.esp_fakes import AcceptedEmail, EspFake, require
from channels_app.providers.fakes_http import Recorded, Reply

SECRET_KEY = "0c8a2f4e-1b3d-4e5f-8a9b-5ca1e3a90001"
PROJECT_ID = "7d9e1f20-3a4b-4c5d-9e6f-0a1b2c3d4e5f"
_FOREIGN_PROJECT = "insufficient permissions on project_id"


class FakeScaleway(EspFake):
    api_root = "/transactional-email/v1alpha1/regions/fr-par"
    path = "/emails"
    config = {"secret_key": SECRET_KEY, "project_id": PROJECT_ID,
              "from_email": "Acme <news@acme.test>"}  # fmt: skip

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("x-auth-token") == SECRET_KEY

    def invalid_status(self) -> int:
        return 400

    def refused(self, status: int, message: str) -> Reply:
        if status == 401:
            body = {"message": "authentication is denied", "method": "api_key",
                    "reason": "invalid_argument", "type": "denied_authentication"}  # fmt: skip
            return Reply(status=401, body=body)
        if message == _FOREIGN_PROJECT:
            return Reply(status=403, body={"message": "insufficient permissions",
                                           "type": "permissions_denied"})  # fmt: skip
        argument, _, reason = message.partition(" ")
        details = [{"argument_name": argument, "reason": "constraint", "help_message": reason}]
        return Reply(status=status, body={"message": "invalid argument(s)",
                                          "type": "invalid_arguments", "details": details})  # fmt: skip

    def check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "body must be an object"
        problem = require(payload, "project_id", "from.email", "subject")
        if problem:
            return problem
        if payload["project_id"] != PROJECT_ID:
            return _FOREIGN_PROJECT
        if not (payload.get("to") or payload.get("cc") or payload.get("bcc")):
            return "to is required (at least one recipient)"
        if not (payload.get("text") or payload.get("html")):
            return "text or html is required"
        return None

    def accept(self, payload: dict[str, Any], serial: int) -> tuple[list[AcceptedEmail], Reply]:
        shared_id = str(uuid.uuid4())  # Scaleway's message_id is one per call
        headers = {str(h.get("key")): str(h.get("value"))
                   for h in payload.get("additional_headers") or []}  # fmt: skip
        emails, records = [], []
        for kind in ("to", "cc", "bcc"):
            for recipient in payload.get(kind) or []:
                email_id = str(uuid.uuid4())
                emails.append(
                    AcceptedEmail(
                        to=recipient["email"],
                        subject=payload["subject"],
                        text=payload.get("text", ""),
                        html=payload.get("html", ""),
                        headers=headers,
                        provider_id=email_id,
                    )
                )
                records.append(
                    {
                        "id": email_id,
                        "message_id": shared_id,
                        "project_id": PROJECT_ID,
                        "mail_from": payload["from"]["email"],
                        "mail_rcpt": recipient["email"],
                        "rcpt_type": kind,
                        "subject": payload["subject"],
                        "created_at": "2026-11-27T10:00:00.000000Z",
                        "updated_at": "2026-11-27T10:00:00.000000Z",
                        "status": "sending",
                        "status_details": "ready to send",
                        "try_count": 0,
                        "last_tries": [],
                        "flags": [],
                    }  # fmt: skip
                )
        return emails, Reply(body={"emails": records})
