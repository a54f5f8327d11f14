"""Getui RestAPI v2 as a FakeHTTPServer responder: checks the auth sign and timestamp, the
`token` header, request_id and notification fields, and answers {"code","msg","data"} with
HTTP 200 as Getui does, including per-cid results. `receipt_body()` builds the message
receipts (消息回执) Getui POSTs to a receipt URL: one signed JSON object per line."""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
import time
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply

CLICK_TYPES = {"startapp", "url", "intent", "payload", "payload_custom", "none"}


def getui(code: int, msg: str, data: Any = None) -> Reply:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if data is not None:
        body["data"] = data
    return Reply(body=body)


class FakeGetui:
    def __init__(self, *, app_id: str, app_key: str, master_secret: str):
        self.app_id = app_id
        self.app_key = app_key
        self.master_secret = master_secret
        self.valid_tokens: set[str] = set()
        self.auth_calls = 0
        self.tasks: dict[str, dict[str, Any]] = {}  # list tasks by taskid
        self.pushed: list[dict[str, Any]] = []  # one entry per cid accepted
        self.statuses: dict[str, str] = {}  # cid -> non-default per-cid result
        self.fail_with: Reply | None = None  # answer every push call with this
        self.delay = 0.0
        self._request_ids: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def receipt_body(self, *receipts: tuple[str, str, dict[str, Any]]) -> bytes:
        """(cid, taskid, extra fields) each -> Getui's receipt lines, signed with
        MD5(appid + cid + taskid + msgid + MasterSecret)."""
        lines = []
        for cid, taskid, extra in receipts:
            msgid = f"msg-{secrets.token_hex(6)}"
            raw = f"{self.app_id}{cid}{taskid}{msgid}{self.master_secret}"
            line = {"appid": self.app_id, "cid": cid, "taskid": taskid, "msgid": msgid,
                    "code": "200", "desc": "成功", "recvtime": str(int(time.time() * 1000)),
                    "sign": hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()}  # fmt: skip
            lines.append(json.dumps({**line, **extra}, ensure_ascii=False))
        return "\n".join(lines).encode()

    def expire_tokens(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    def __call__(self, request: Recorded) -> Reply:
        prefix = f"/v2/{self.app_id}"
        if request.method != "POST" or not request.path.startswith(prefix + "/"):
            return Reply(status=404, body={"code": 404, "msg": "not found"})
        action = request.path[len(prefix) :]
        body = request.json if request.body else None
        if not isinstance(body, dict):
            return getui(20001, "request body is not json")
        if action == "/auth":
            return self._auth(body)
        if request.headers.get("token") not in self.valid_tokens:
            return getui(10001, "token invalid")
        if self.delay:
            time.sleep(self.delay)
        if self.fail_with is not None:
            return self.fail_with
        if action == "/push/single/cid":
            return self._single(body)
        if action == "/push/list/message":
            return self._list_message(body)
        if action == "/push/list/cid":
            return self._list_cid(body)
        return Reply(status=404, body={"code": 404, "msg": "not found"})

    def _auth(self, body: dict[str, Any]) -> Reply:
        timestamp = str(body.get("timestamp", ""))
        if body.get("appkey") != self.app_key:
            return getui(20001, "appkey error")
        if not timestamp.isdigit() or abs(int(timestamp) / 1000 - time.time()) > 600:
            return getui(20001, "timestamp error")
        raw = self.app_key + timestamp + self.master_secret
        if body.get("sign") != hashlib.sha256(raw.encode()).hexdigest():
            return getui(20001, "sign error")
        token = secrets.token_hex(32)
        with self._lock:
            self.auth_calls += 1
            self.valid_tokens.add(token)
        expire_time = str(int(time.time() * 1000) + 24 * 3600 * 1000)
        return getui(0, "success", {"expire_time": expire_time, "token": token})

    def _check_message(self, body: dict[str, Any]) -> str:
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not 10 <= len(request_id) <= 32:
            return "request_id length must be 10-32"
        if request_id in self._request_ids:
            return "duplicate request_id"
        notification = (body.get("push_message") or {}).get("notification")
        if not isinstance(notification, dict):
            return "push_message.notification is required"
        title, text = notification.get("title"), notification.get("body")
        if not isinstance(title, str) or not title or len(title) > 50:
            return "notification.title is required, at most 50 chars"
        if not isinstance(text, str) or not text or len(text) > 256:
            return "notification.body is required, at most 256 chars"
        click_type = notification.get("click_type")
        if click_type not in CLICK_TYPES:
            return "notification.click_type is invalid"
        needs = {"url": "url", "intent": "intent", "payload": "payload"}.get(click_type)
        if needs and not notification.get(needs):
            return f"notification.{needs} is required for click_type {click_type}"
        return ""

    def _results(self, taskid: str, cids: list[str], push_message: dict[str, Any]) -> dict:
        results = {}
        for cid in cids:
            status = self.statuses.get(cid, "successed_online")
            results[cid] = status
            if status.startswith("successed_o"):
                self.pushed.append({"taskid": taskid, "cid": cid, **push_message})
        return {taskid: results}

    def _single(self, body: dict[str, Any]) -> Reply:
        problem = self._check_message(body)
        cids = (body.get("audience") or {}).get("cid")
        if not problem and (not isinstance(cids, list) or len(cids) != 1):
            problem = "audience.cid must hold exactly one cid"
        if problem:
            return getui(20001, problem)
        with self._lock:
            self._request_ids.add(body["request_id"])
            taskid = f"RASS_{next(self._ids):04d}_{secrets.token_hex(8)}"
            data = self._results(taskid, cids, body["push_message"])
        return getui(0, "", data)

    def _list_message(self, body: dict[str, Any]) -> Reply:
        problem = self._check_message(body)
        if problem:
            return getui(20001, problem)
        with self._lock:
            self._request_ids.add(body["request_id"])
            taskid = f"RASL_{next(self._ids):04d}_{secrets.token_hex(8)}"
            self.tasks[taskid] = body["push_message"]
        return getui(0, "", {"taskid": taskid})

    def _list_cid(self, body: dict[str, Any]) -> Reply:
        taskid = body.get("taskid")
        cids = (body.get("audience") or {}).get("cid")
        if taskid not in self.tasks:
            return getui(20001, "taskid not found")
        if not isinstance(cids, list) or not 1 <= len(cids) <= 1000:
            return getui(20001, "audience.cid must hold 1-1000 cids")
        with self._lock:
            data = self._results(taskid, cids, self.tasks[taskid])
        return getui(0, "", data)
