"""Fake Feishu Open Platform for the app bot: tenant tokens, im/v1 message sends and the
read_users query of the message's sender, in Feishu's shapes ({"code", "msg", "data"};
errors often with HTTP 400) and with its rules: Bearer tenant token, receive_id_type,
`content` a JSON string, uuid de-duplication, read state only for this bot's messages of the
last 7 days, `user_id_type` required, pages of `page_size`."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
SEND_PATH = "/open-apis/im/v1/messages"
WEEK = 7 * 24 * 3600


def _err(code: int, msg: str, status: int = 400) -> Reply:
    return Reply(status=status, body={"code": code, "msg": msg})


class FakeFeishuApp:
    def __init__(self, app_id: str = "cli_fake", app_secret: str = "feishu-app-secret"):
        self.app_id, self.app_secret = app_id, app_secret
        self.tokens: dict[str, float] = {}
        self.token_calls = 0
        # message_id -> {"receive_id", "msg_type", "content", "sent_at", "uuid"}
        self.messages: dict[str, dict[str, Any]] = {}
        self.reads: dict[str, list[tuple[str, int]]] = {}  # message_id -> [(open_id, ms)]
        self.unknown_receivers: set[str] = set()  # outside the bot's availability: 230013
        self.faults: list[Reply | None] = []  # answered, in order, to the next API calls
        self.page_size_seen: list[int] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def read(self, message_id: str, open_id: str, at: float | None = None) -> None:
        """The receiver opened the message in Feishu."""
        with self._lock:
            self.reads.setdefault(message_id, []).append((open_id, int((at or time.time()) * 1000)))

    def accepted(self) -> list[dict[str, Any]]:
        return list(self.messages.values())

    def __call__(self, request: Recorded) -> Reply:
        with self._lock:
            if request.method == "POST" and request.path == TOKEN_PATH:
                return self._token(request)
            if not self._authorized(request):
                return _err(99991663, "Invalid access token for authorization.")
            fault = self.faults.pop(0) if self.faults else None
            if fault is not None:  # None in the list: that call is answered normally
                return fault
            if request.method == "POST" and request.path == SEND_PATH:
                return self._send(request)
            parts = request.path.split("/")
            if request.method == "GET" and request.path.endswith("/read_users") and len(parts) == 7:
                return self._read_users(parts[5], request)
            return _err(404, "not found", 404)

    def _token(self, request: Recorded) -> Reply:
        body = request.json if request.body else {}
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            return _err(10003, "invalid param: app_id or app_secret")
        self.token_calls += 1
        token = f"t-{uuid.uuid4().hex}"
        self.tokens[token] = time.time() + 7200
        return Reply(body={"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})

    def _authorized(self, request: Recorded) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        return header.startswith("Bearer ") and self.tokens.get(token, 0) > time.time()

    def _send(self, request: Recorded) -> Reply:
        kind = (request.query.get("receive_id_type") or [""])[0]
        if kind not in ("open_id", "user_id", "union_id", "email", "chat_id"):
            return _err(99992402, "field validation failed: receive_id_type")
        body = request.json
        if not isinstance(body, dict) or not body.get("receive_id"):
            return _err(230001, "invalid request: receive_id")
        if body["receive_id"] in self.unknown_receivers:
            return _err(230013, "Bot has NO availability to this user.")
        if body.get("msg_type") not in ("text", "post", "interactive"):
            return _err(230001, "invalid request: msg_type")
        try:
            content = json.loads(body.get("content") or "")
        except (TypeError, ValueError):
            return _err(230001, "invalid request: content is not a JSON string")
        if body["msg_type"] == "text" and not content.get("text"):
            return _err(230001, "invalid request: text is empty")
        for message_id, sent in self.messages.items():  # one message per uuid
            if body.get("uuid") and sent["uuid"] == body["uuid"]:
                return Reply(body={"code": 0, "msg": "success", "data": {"message_id": message_id}})
        message_id = f"om_{next(self._ids):032x}"
        self.messages[message_id] = {
            "receive_id": body["receive_id"], "msg_type": body["msg_type"], "content": content,
            "sent_at": time.time(), "uuid": body.get("uuid") or "",
        }  # fmt: skip
        return Reply(body={"code": 0, "msg": "success", "data": {"message_id": message_id,
                                                                  "msg_type": body["msg_type"]}})  # fmt: skip

    def _read_users(self, message_id: str, request: Recorded) -> Reply:
        query = {key: values[0] for key, values in request.query.items()}
        if query.get("user_id_type") not in ("open_id", "union_id", "user_id"):
            return _err(99992402, "field validation failed: user_id_type is required")
        sent = self.messages.get(message_id)
        if sent is None or time.time() - sent["sent_at"] > WEEK:
            return _err(230001, "invalid message_id (not sent by this bot within 7 days)")
        size = int(query.get("page_size") or 20)
        if not 1 <= size <= 100:
            return _err(99992402, "field validation failed: page_size")
        self.page_size_seen.append(size)
        start = int(query.get("page_token") or 0)
        readers = self.reads.get(message_id, [])
        page = readers[start : start + size]
        more = start + size < len(readers)
        items = [
            {"user_id_type": "open_id", "user_id": who, "timestamp": str(ms), "tenant_key": "tk"}
            for who, ms in page
        ]
        data = {"items": items, "has_more": more, "page_token": str(start + size) if more else ""}
        return Reply(body={"code": 0, "msg": "success", "data": data})
