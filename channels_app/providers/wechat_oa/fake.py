"""The WeChat server side of the server-URL protocol, for tests: builds the GET verification
and the event pushes (XML or JSON, plain or safe mode) exactly as WeChat sends them to an
account's server URL. Written from the documented contract, independently of server.py
(its own padding and packing), so a shared mistake cannot make both sides agree."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


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
