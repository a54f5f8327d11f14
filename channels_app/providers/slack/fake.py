"""A Slack incoming-webhook responder for FakeHTTPServer: checks the secret path and the
payload as Slack does and answers with Slack's plain-text codes ("ok", "no_text", …)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from channels_app.providers.fakes_http import Recorded, Reply


def _text(status: int, text: str, **headers: str) -> Reply:
    return Reply(
        status=status, body=text.encode(), headers={"Content-Type": "text/html", **headers}
    )


class FakeSlackWebhook:
    def __init__(self, path: str = "/services/T0001/B0001/secret-token"):
        self.path = path
        self.posted: list[dict[str, Any]] = []
        self.retry_after: int | None = None  # set to throttle every call
        self.delay = 0.0
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        if request.method != "POST":
            return _text(405, "invalid_method")
        team_and_bot, _, token = request.path.rpartition("/")
        if team_and_bot != self.path.rpartition("/")[0]:
            return _text(404, "no_service")
        if token != self.path.rpartition("/")[2]:
            return _text(403, "invalid_token")
        if self.retry_after is not None:
            return _text(429, "rate_limited", **{"Retry-After": str(self.retry_after)})
        payload = self._payload(request)
        if not isinstance(payload, dict):
            return _text(400, "invalid_payload")
        blocks = payload.get("blocks")
        if blocks is not None and not (
            isinstance(blocks, list) and all(isinstance(b, dict) and "type" in b for b in blocks)
        ):
            return _text(400, "invalid_blocks")
        for block in blocks or []:
            # Slack's image block: a public image_url and an alt_text, both required.
            if block["type"] == "image" and not (block.get("image_url") and block.get("alt_text")):
                return _text(400, "invalid_blocks")
        if not payload.get("text") and not blocks and not payload.get("attachments"):
            return _text(400, "no_text")
        with self._lock:
            self.posted.append(payload)
        return _text(200, "ok")

    def _payload(self, request: Recorded) -> Any:
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                return json.loads(request.body)
            form = parse_qs(request.body.decode())
            return json.loads(form["payload"][0])
        except (ValueError, KeyError):
            return None
