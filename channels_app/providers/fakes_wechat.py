"""Fake WeChat API (official account template + mini program subscribe messages): issues
access tokens, checks what WeChat checks and answers in WeChat's shapes (HTTP 200 + errcode)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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


# The WeChat server side of the server-URL protocol (receipts), for tests: written from the
# documented contract, independently of wechat_server.py, so a shared mistake cannot make
# both sides agree.
def new_encoding_aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


def _xml(fields: dict[str, Any], root: str = "xml") -> str:
    def value(name: str, item: Any) -> str:
        if isinstance(item, dict):
            return _xml(item, name)
        if isinstance(item, list):
            return "".join(value(name, entry) for entry in item)
        if isinstance(item, int):
            return f"<{name}>{item}</{name}>"
        return f"<{name}><![CDATA[{item}]]></{name}>"

    return f"<{root}>" + "".join(value(k, v) for k, v in fields.items()) + f"</{root}>"


class WeChatServerPush:
    """One official account / mini program pushing to our server URL."""

    def __init__(
        self, appid: str, token: str, encoding_aes_key: str = "", *, json_format: bool = False
    ):
        self.appid, self.token, self.aes = appid, token, encoding_aes_key
        self.json_format = json_format  # mini programs may choose JSON instead of XML

    def _sign(self, *parts: str) -> str:
        return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324

    def _encrypt(self, message: bytes) -> str:
        key = base64.b64decode(self.aes + "=")
        plain = os.urandom(16) + len(message).to_bytes(4, "big") + message + self.appid.encode()
        padder = padding.PKCS7(256).padder()  # 32-byte blocks, as WeChat pads
        padded = padder.update(plain) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def verification(self, echostr: str, *, safe: bool = False) -> str:
        """The query string of WeChat's GET check when the URL is saved."""
        timestamp, nonce = str(int(time.time())), os.urandom(4).hex()
        query = {"timestamp": timestamp, "nonce": nonce}
        if safe:
            encrypted = self._encrypt(echostr.encode())
            query |= {
                "echostr": encrypted,
                "msg_signature": self._sign(self.token, timestamp, nonce, encrypted),
            }
        else:
            query |= {"echostr": echostr, "signature": self._sign(self.token, timestamp, nonce)}
        return urlencode(query)

    def push(self, fields: dict[str, Any], *, safe: bool = False) -> tuple[str, bytes, str]:
        """(query string, body, content type) of one event POST."""
        timestamp, nonce = str(int(time.time())), os.urandom(4).hex()
        query = {
            "timestamp": timestamp,
            "nonce": nonce,
            "signature": self._sign(self.token, timestamp, nonce),
        }
        body = json.dumps(fields) if self.json_format else _xml(fields)
        if safe:
            encrypted = self._encrypt(body.encode())
            query |= {
                "encrypt_type": "aes",
                "msg_signature": self._sign(self.token, timestamp, nonce, encrypted),
            }
            outer = {"ToUserName": fields.get("ToUserName", ""), "Encrypt": encrypted}
            body = json.dumps(outer) if self.json_format else _xml(outer)
        kind = "application/json" if self.json_format else "text/xml"
        return urlencode(query), body.encode(), kind

    def template_finished(self, openid: str, msgid: int | str, status: str) -> dict[str, Any]:
        """An official account's TEMPLATESENDJOBFINISH event."""
        return {
            "ToUserName": "gh_fake",
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "TEMPLATESENDJOBFINISH",
            "MsgID": int(msgid),
            "Status": status,
        }

    def subscribe_event(
        self, openid: str, event: str, entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A mini program subscribe_msg_* event; XML wraps the entries, JSON lists them."""
        wrapper = {
            "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
            "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
            "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
        }[event]
        fields: dict[str, Any] = {
            "ToUserName": "gh_fake",
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": event,
        }
        if self.json_format:
            fields["List"] = entries[0] if len(entries) == 1 else entries
        else:
            fields[wrapper] = {"List": entries}
        return fields
