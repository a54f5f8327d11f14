"""A Mailgun /v3/<domain>/messages responder for FakeHTTPServer: checks basic auth api:<key>,
the domain and the required form fields (urlencoded or multipart), answers like Mailgun."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import parse_qs

from channels_app.providers.fakes_http import Recorded, Reply


class FakeMailgun:
    def __init__(self, api_key: str = "key-test-123456", domain: str = "mg.acme.test"):
        self.api_key = api_key
        self.domain = domain
        self.sent: list[dict[str, Any]] = []
        self.fail_with: Reply | None = None
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        expected = "Basic " + base64.b64encode(f"api:{self.api_key}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply(status=401, body=b"Forbidden", headers={"Content-Type": "text/plain"})
        prefix, _, action = request.path.rpartition("/")
        if request.method != "POST" or action != "messages" or not prefix.startswith("/v3/"):
            return Reply(status=404, body={"message": "not found"})
        if prefix != f"/v3/{self.domain}":
            return Reply(status=404, body={"message": f"Domain not found: {prefix[4:]}"})
        fields = parse_form(request)
        for required in ("from", "to", "subject"):
            if not fields.get(required):
                return Reply(status=400, body={"message": f"'{required}' parameter is missing"})
        if not (fields.get("text") or fields.get("html") or fields.get("template")):
            return Reply(
                status=400,
                body={"message": "Need at least one of 'text' or 'html' parameters specified"},
            )
        if self.fail_with is not None:
            return self.fail_with
        with self._lock:
            self.sent.append(fields)
        message_id = f"<{time.strftime('%Y%m%d%H%M%S')}.{uuid.uuid4().hex[:12]}@{self.domain}>"
        return Reply(status=200, body={"id": message_id, "message": "Queued. Thank you."})


def parse_form(request: Recorded) -> dict[str, Any]:
    """Form fields -> list of values; files under "attachment" as (filename, bytes, type)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qs(request.body.decode(), keep_blank_values=True))
    if not content_type.startswith("multipart/form-data"):
        return {}
    envelope = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = message_from_bytes(envelope + request.body, policy=policy.HTTP)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        value: Any = (filename, payload, part.get_content_type()) if filename else payload.decode()
        fields.setdefault(name, []).append(value)
    return fields
