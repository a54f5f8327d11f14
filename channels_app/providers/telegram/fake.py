"""A Telegram Bot API responder for FakeHTTPServer: checks the token in the path and the
sendMessage/deleteMessage fields, answers in Telegram's {"ok":…} shape."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from channels_app.providers.fakes_http import Recorded, Reply

PARSE_MODES = {"Markdown", "MarkdownV2", "HTML"}


def _error(code: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(status=code, body=body)


class FakeTelegram:
    def __init__(
        self,
        token: str = "123456:test-token",
        *,
        chats: set[str] | None = None,
        blocked: set[str] | None = None,
    ):
        self.token = token
        self.chats = chats if chats is not None else {"1001", "-100200", "-100300"}
        # Channel usernames resolve to the numeric id, as in the real API.
        self.usernames = {"@news": "-100300"}
        self.blocked = blocked or set()
        self.sent: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, int]] = []
        self.retry_after: int | None = None  # set to answer every call with 429
        self.delay = 0.0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        prefix, _, method = request.path.rpartition("/")
        if not prefix.startswith("/bot"):
            return _error(404, "Not Found")
        if prefix != f"/bot{self.token}":
            return _error(401, "Unauthorized")
        if self.retry_after is not None:
            return _error(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                retry_after=self.retry_after,
            )
        params = self._params(request)
        if method == "sendMessage":
            return self._send_message(params)
        if method == "deleteMessage":
            return self._delete_message(params)
        return _error(404, "Not Found")

    def _params(self, request: Recorded) -> dict[str, Any]:
        # The Bot API takes JSON, a form or the query string alike.
        if request.headers.get("content-type", "").startswith("application/json"):
            return request.json or {}
        params = {k: v[0] for k, v in request.query.items()}
        params.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
        return params

    def _chat(self, params: dict[str, Any]) -> tuple[str | None, Reply | None]:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            return None, _error(400, "Bad Request: chat_id is empty")
        chat = self.usernames.get(str(chat_id), str(chat_id))
        if chat not in self.chats:
            return None, _error(400, "Bad Request: chat not found")
        if chat in self.blocked:
            return None, _error(403, "Forbidden: bot was blocked by the user")
        return chat, None

    def _send_message(self, params: dict[str, Any]) -> Reply:
        chat, error = self._chat(params)
        if error:
            return error
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        if params.get("parse_mode") not in (None, *PARSE_MODES):
            return _error(400, "Bad Request: unsupported parse_mode")
        with self._lock:
            message_id = next(self._ids)
            self.sent.append({**params, "chat": chat, "message_id": message_id})
        return Reply(
            body={
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "from": {"id": int(self.token.split(":")[0]), "is_bot": True},
                    "chat": {"id": int(chat), "type": "private"},
                    "date": int(time.time()),
                    "text": text,
                },
            }
        )

    def _delete_message(self, params: dict[str, Any]) -> Reply:
        chat, error = self._chat(params)
        if error:
            return error
        message_id = int(params.get("message_id") or 0)
        with self._lock:
            known = any(m["message_id"] == message_id and m["chat"] == chat for m in self.sent)
            if not known or (chat, message_id) in self.deleted:
                return _error(400, "Bad Request: message to delete not found")
            self.deleted.append((chat, message_id))
        return Reply(body={"ok": True, "result": True})
