"""Fake WeChat API (official account template + mini program subscribe messages): issues
access tokens, checks what WeChat checks and answers in WeChat's shapes (HTTP 200 + errcode)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply

TEMPLATE_SEND = "/cgi-bin/message/template/send"
SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"


def _err(code: int, msg: str) -> Reply:
    return Reply(body={"errcode": code, "errmsg": f"{msg} rid: {uuid.uuid4().hex[:8]}"})


class FakeWeChat:
    def __init__(
        self,
        appid: str = "wx-test",
        secret: str = "wx-secret",
        *,
        openids: set[str] | None = None,
        template_ids: set[str] | None = None,
        refused: set[str] | frozenset[str] = frozenset(),
        quota: int | None = None,
    ):
        self.appid, self.secret = appid, secret
        self.openids = openids  # None: any openid not starting with "invalid"
        self.template_ids = template_ids
        self.refused = set(refused)  # mini program users who did not subscribe (43101)
        self.quota = quota  # accepted sends before 45009
        self.tokens: dict[str, float] = {}  # token -> expiry
        self.token_calls = 0
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # (path, body)
        self.faults: list[Reply] = []  # answered, in order, to the next send calls
        self.delay = 0.0
        self._ids = itertools.count(1000000001)
        self._lock = threading.Lock()

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if request.method == "GET" and request.path == "/cgi-bin/token":
                return self._token(request)
            if request.method == "POST" and request.path in (TEMPLATE_SEND, SUBSCRIBE_SEND):
                return self._send(request)
            return Reply(status=404, body={"errcode": 404, "errmsg": "not found"})

    def _token(self, request: Recorded) -> Reply:
        query = {key: values[0] for key, values in request.query.items()}
        if query.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if query.get("appid") != self.appid:
            return _err(40013, "invalid appid")
        if query.get("secret") != self.secret:
            return _err(40125, "invalid appsecret")
        self.token_calls += 1
        token = f"wx-token-{uuid.uuid4().hex}"
        self.tokens[token] = time.time() + 7200
        return Reply(body={"access_token": token, "expires_in": 7200})

    def _send(self, request: Recorded) -> Reply:
        token = (request.query.get("access_token") or [""])[0]
        if not token:
            return _err(41001, "access_token missing")
        if token not in self.tokens:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if self.tokens[token] < time.time():
            return _err(42001, "access_token expired")
        if self.faults:
            return self.faults.pop(0)
        try:
            body = request.json
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _err(47001, "data format error")
        touser = str(body.get("touser") or "")
        if (
            not touser
            or touser.startswith("invalid")
            or (self.openids is not None and touser not in self.openids)
        ):
            return _err(40003, "invalid openid")
        template_id = str(body.get("template_id") or "")
        if not template_id or (
            self.template_ids is not None and template_id not in self.template_ids
        ):
            return _err(40037, "invalid template_id")
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return _err(47003, "argument invalid! data is empty")
        for key, value in data.items():
            if not isinstance(value, dict) or value.get("value") in (None, ""):
                return _err(47003, f"argument invalid! data.{key}.value invalid")
        if request.path == TEMPLATE_SEND:
            mini = body.get("miniprogram")
            if mini is not None and not (isinstance(mini, dict) and mini.get("appid")):
                return _err(47003, "argument invalid! miniprogram.appid empty")
        else:
            if touser in self.refused:
                return _err(43101, "user refuse to accept the msg")
            if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
                return _err(47003, "argument invalid! miniprogram_state invalid")
            if body.get("lang", "zh_CN") not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
                return _err(47003, "argument invalid! lang invalid")
        if self.quota is not None and len(self.accepted) >= self.quota:
            return _err(45009, "reach max api daily quota limit")
        self.accepted.append((request.path, body))
        return Reply(body={"errcode": 0, "errmsg": "ok", "msgid": next(self._ids)})
