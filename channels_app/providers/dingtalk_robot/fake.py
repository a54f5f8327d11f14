"""Fake DingTalk custom robot: /robot/send?access_token=T&timestamp=MS&sign=S, checking the
token, the 加签 signature and timestamp window, the body, and 20 a minute (130101)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from typing import Any

from channels_app.providers.fakes_errors import ding_err
from channels_app.providers.fakes_http import Recorded, Reply

REQUIRED = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("title", "text", "messageUrl"),
    "actionCard": ("title", "text"),
}


class FakeDingTalkRobot:
    def __init__(
        self, access_token: str = "robot-token", secret: str = "SECrobot", *, per_minute: int = 20
    ):
        self.access_token, self.secret = access_token, secret
        self.per_minute = per_minute
        self.accepted: list[dict[str, Any]] = []
        self.faults: list[Reply] = []
        self.delay = 0.0
        self._lock = threading.Lock()

    def expected_sign(self, timestamp: str) -> str:
        digest = hmac.new(
            self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256
        )
        return base64.b64encode(digest.digest()).decode()

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if request.method != "POST" or request.path != "/robot/send":
                return Reply(status=404, body={"errcode": 404, "errmsg": "not found"})
            query = {key: values[0] for key, values in request.query.items()}
            if query.get("access_token") != self.access_token:
                return ding_err(300001, "token is not exist")
            if self.secret:
                timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
                if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600_000:
                    return ding_err(310000, "invalid timestamp")
                # parse_qs already URL-decoded the sign, as DingTalk does.
                if not hmac.compare_digest(sign, self.expected_sign(timestamp)):
                    return ding_err(310000, "sign not match")
            if self.faults:
                return self.faults.pop(0)
            try:
                body = request.json
            except ValueError:
                body = None
            msgtype = body.get("msgtype") if isinstance(body, dict) else None
            if msgtype not in REQUIRED or not isinstance(body.get(msgtype), dict):
                return ding_err(40035, "缺少参数 msgtype")
            for name in REQUIRED[msgtype]:
                if not body[msgtype].get(name):
                    return ding_err(40035, f"缺少参数 {msgtype}.{name}")
            card = body.get("actionCard") or {}
            if msgtype == "actionCard" and not (
                (card.get("singleTitle") and card.get("singleURL")) or card.get("btns")
            ):
                return ding_err(40035, "缺少参数 actionCard.singleURL")
            at = body.get("at", {})
            if not isinstance(at, dict) or not all(
                isinstance(at.get(name, []), list) for name in ("atMobiles", "atUserIds")
            ):
                return ding_err(40035, "缺少参数 at")
            if len(self.accepted) >= self.per_minute:
                return ding_err(130101, "send too fast, exceed 20 times per minute")
            self.accepted.append(body)
            return Reply(body={"errcode": 0, "errmsg": "ok"})
