"""Fake WeCom app-message API: gettoken, message/send (touser "a|b", at most 1000, unknown
users listed in `invaliduser`) and message/recall, in WeCom's shapes (HTTP 200 + errcode)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from channels_app.providers.fakes_errors import check_msgtype, wecom_err
from channels_app.providers.fakes_http import Recorded, Reply

REQUIRED = {
    "text": ("content",),
    "markdown": ("content",),
    "textcard": ("title", "description", "url"),
    "news": ("articles",),
}


class FakeWeCom:
    def __init__(
        self,
        corpid: str = "ww-test",
        corpsecret: str = "wecom-secret",
        agentid: int = 1000002,
        *,
        users: set[str] | None = None,
        quota: int | None = None,
    ):
        self.corpid, self.corpsecret, self.agentid = corpid, corpsecret, agentid
        self.users = users  # None: every userid not starting with "invalid" exists
        self.quota = quota  # accepted sends before 45009
        self.tokens: dict[str, float] = {}
        self.token_calls = 0
        self.accepted: list[dict[str, Any]] = []
        self.recalled: list[str] = []
        self.msgids: set[str] = set()
        self.faults: list[Reply] = []
        self.delay = 0.0
        self._lock = threading.Lock()

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if request.method == "GET" and request.path == "/cgi-bin/gettoken":
                return self._gettoken(request)
            if request.method == "POST" and request.path == "/cgi-bin/message/send":
                return self._authed(request) or self._send(request.json)
            if request.method == "POST" and request.path == "/cgi-bin/message/recall":
                return self._authed(request) or self._recall(request.json)
            return Reply(status=404, body={"errcode": 404, "errmsg": "not found"})

    def _gettoken(self, request: Recorded) -> Reply:
        if request.query.get("corpid") != [self.corpid]:
            return wecom_err(40013, "invalid corpid")
        if request.query.get("corpsecret") != [self.corpsecret]:
            return wecom_err(40001, "invalid credential")
        self.token_calls += 1
        token = f"wecom-token-{uuid.uuid4().hex}"
        self.tokens[token] = time.time() + 7200
        return Reply(body={"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    def _authed(self, request: Recorded) -> Reply | None:
        token = (request.query.get("access_token") or [""])[0]
        if not token:
            return wecom_err(41001, "access_token missing")
        if token not in self.tokens:
            return wecom_err(40014, "invalid access_token")
        if self.tokens[token] < time.time():
            return wecom_err(42001, "access_token expired")
        if self.faults:
            return self.faults.pop(0)
        try:
            body = request.json
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return wecom_err(40058, "Warning: wrong json format.")
        return None

    def _send(self, body: dict[str, Any]) -> Reply:
        if body.get("agentid") != self.agentid:
            return wecom_err(40056, "invalid agentid")
        bad = check_msgtype(body, REQUIRED)
        if bad:
            return bad
        users = [user for user in str(body.get("touser") or "").split("|") if user]
        if len(users) > 1000:
            return wecom_err(40058, "touser exceed max count 1000")
        invalid = [
            user.lower()
            for user in users
            if user.lower().startswith("invalid")
            or (self.users is not None and user not in self.users)
        ]
        unlicensed = [user.lower() for user in users if user.lower().startswith("unlicensed")]
        if len(invalid) == len(users):
            return wecom_err(81013, "user & party & tag all invalid")
        if self.quota is not None and len(self.accepted) >= self.quota:
            return wecom_err(45009, "api freq out of limit")
        msgid = uuid.uuid4().hex
        self.msgids.add(msgid)
        self.accepted.append(body)
        return Reply(
            body={
                "errcode": 0,
                "errmsg": "ok",
                "invaliduser": "|".join(invalid),
                "invalidparty": "",
                "invalidtag": "",
                "unlicenseduser": "|".join(unlicensed),
                "msgid": msgid,
            }
        )

    def _recall(self, body: dict[str, Any]) -> Reply:
        msgid = body.get("msgid")
        if msgid not in self.msgids or msgid in self.recalled:
            return wecom_err(40058, "invalid msgid")
        self.recalled.append(msgid)
        return Reply(body={"errcode": 0, "errmsg": "ok"})
