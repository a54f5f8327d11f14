"""Fake Feishu / Lark custom bot: /open-apis/bot/v2/hook/{token}, checking the token, the
signature (seconds timestamp, 1 h window), msg_type fields, 20 KB, and its limit (11232)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply

PREFIX = "/open-apis/bot/v2/hook/"


def feishu_err(code: int, msg: str) -> Reply:
    return Reply(body={"code": code, "data": {}, "msg": msg})


class FakeFeishuBot:
    def __init__(
        self, token: str = "hook-token", secret: str = "feishu-secret", *, per_minute: int = 100
    ):
        self.token, self.secret = token, secret
        self.per_minute = per_minute
        self.accepted: list[dict[str, Any]] = []
        self.faults: list[Reply] = []
        self.delay = 0.0
        self._lock = threading.Lock()

    def expected_sign(self, timestamp: str) -> str:
        digest = hmac.new(f"{timestamp}\n{self.secret}".encode(), b"", hashlib.sha256)
        return base64.b64encode(digest.digest()).decode()

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if request.method != "POST" or not request.path.startswith(PREFIX):
                return Reply(status=404, body={"code": 404, "msg": "not found"})
            if request.path[len(PREFIX) :] != self.token:
                return feishu_err(19001, "param invalid: incoming webhook access token invalid")
            try:
                body = request.json
            except ValueError:
                body = None
            if not isinstance(body, dict) or len(request.body) > 20 * 1024:
                return feishu_err(9499, "Bad Request")
            if self.secret:
                timestamp = str(body.get("timestamp") or "")
                if (
                    not timestamp.isdigit()
                    or abs(time.time() - int(timestamp)) > 3600
                    or not hmac.compare_digest(str(body.get("sign")), self.expected_sign(timestamp))
                ):
                    return feishu_err(
                        19021,
                        "sign match fail or timestamp is not within one hour from current time",
                    )
            if self.faults:
                return self.faults.pop(0)
            msg_type, content = body.get("msg_type"), body.get("content") or {}
            ok = (
                (msg_type == "text" and content.get("text"))
                or (
                    msg_type == "post" and isinstance(content.get("post"), dict) and content["post"]
                )
                or (
                    msg_type == "interactive"
                    and isinstance(body.get("card"), dict)
                    and body["card"]
                )
            )
            if not ok:
                return feishu_err(9499, "Bad Request")
            if len(self.accepted) >= self.per_minute:
                return feishu_err(11232, "frequency limited")
            self.accepted.append(body)
            return Reply(body={"code": 0, "data": {}, "msg": "success"})
