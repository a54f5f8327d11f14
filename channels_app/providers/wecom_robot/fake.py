"""Fake WeCom group robot: /cgi-bin/webhook/send?key=K, with WeCom's key, body and size checks
and its 20-a-minute limit (45009), in WeCom's shapes (HTTP 200 + errcode)."""

from __future__ import annotations

import threading
import time
from typing import Any

from channels_app.providers.fakes_errors import check_msgtype, wecom_err
from channels_app.providers.fakes_http import Recorded, Reply

REQUIRED = {"text": ("content",), "markdown": ("content",), "news": ("articles",)}


class FakeWeComRobot:
    def __init__(self, key: str = "robot-key", *, per_minute: int = 20):
        self.key = key
        self.per_minute = per_minute
        self.accepted: list[dict[str, Any]] = []
        self.faults: list[Reply] = []
        self.delay = 0.0
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if request.method != "POST" or request.path != "/cgi-bin/webhook/send":
                return Reply(status=404, body={"errcode": 404, "errmsg": "not found"})
            if request.query.get("key") != [self.key]:
                return wecom_err(93000, "invalid webhook url")
            if self.faults:
                return self.faults.pop(0)
            try:
                body = request.json
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return wecom_err(40058, "Warning: wrong json format.")
            bad = check_msgtype(body, REQUIRED)
            if bad:
                return bad
            if body["msgtype"] == "text" and len(body["text"]["content"].encode()) > 2048:
                return wecom_err(45002, "content size out of limit")
            if body["msgtype"] == "news" and not all(
                a.get("url") for a in body["news"]["articles"]
            ):
                return wecom_err(40058, "news.articles.url empty")
            if len(self.accepted) >= self.per_minute:
                return wecom_err(45009, "api freq out of limit")
            self.accepted.append(body)
            return Reply(body={"errcode": 0, "errmsg": "ok"})
