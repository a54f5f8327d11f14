"""A SendGrid v3 /mail/send responder for FakeHTTPServer: checks the Bearer key and the
payload fields SendGrid requires, answers 202 with an X-Message-Id header like the real API."""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply


def _errors(status: int, message: str, field: str | None = None) -> Reply:
    return Reply(
        status=status, body={"errors": [{"message": message, "field": field, "help": None}]}
    )


class FakeSendGrid:
    def __init__(self, api_key: str = "SG.test-key.secret-part"):
        self.api_key = api_key
        self.sent: list[dict[str, Any]] = []
        self.fail_with: Reply | None = None  # answer every valid call with this instead
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v3/mail/send":
            return _errors(404, "not found")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _errors(401, "The provided authorization grant is invalid, expired, or revoked")
        try:
            payload = request.json
        except ValueError:
            return _errors(400, "Bad Request")
        problem = _check(payload)
        if problem:
            return _errors(400, *problem)
        if self.fail_with is not None:
            return self.fail_with
        with self._lock:
            self.sent.append(payload)
        return Reply(status=202, body=b"", headers={"X-Message-Id": uuid.uuid4().hex[:22]})


def _check(payload: Any) -> tuple[str, str] | None:
    """(message, field) for the first thing SendGrid would reject."""
    if not isinstance(payload, dict):
        return "Bad Request", ""
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return "The personalizations field is required.", "personalizations"
    for index, item in enumerate(personalizations):
        to = item.get("to")
        if not isinstance(to, list) or not to or not all("@" in str(r.get("email")) for r in to):
            return (
                "The to array is required for all personalization objects.",
                f"personalizations.{index}.to",
            )
        if not (payload.get("subject") or item.get("subject")):
            return "The subject is required.", "subject"
    if "@" not in str((payload.get("from") or {}).get("email", "")):
        return "The from object must be provided for every email send.", "from"
    content = payload.get("content")
    if not isinstance(content, list) or not content:
        return (
            "Unless a valid template_id is provided, the content parameter is required.",
            "content",
        )
    types = [part.get("type") for part in content]
    if not all(isinstance(part.get("value"), str) and part.get("value") for part in content):
        return "The content value must be a string at least one character in length.", "content"
    if "text/plain" in types and types.index("text/plain") != 0:
        return "If present, text/plain must be first.", "content"
    for index, attachment in enumerate(payload.get("attachments") or []):
        if not attachment.get("filename"):
            return "The attachment filename parameter is required.", f"attachments.{index}.filename"
        try:
            base64.b64decode(attachment.get("content", ""), validate=True)
        except (binascii.Error, ValueError):
            return "The attachment content must be base64 encoded.", f"attachments.{index}.content"
    return None
