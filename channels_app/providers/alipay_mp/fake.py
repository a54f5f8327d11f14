"""Alipay's open platform gateway (/gateway.do) for alipay.open.app.mini.templatemessage.send,
as documented: form-encoded common parameters + biz_content, the RSA2 signature checked with
the app's public key (40002 isv.invalid-signature otherwise), the app id, timestamp and
method checked, biz_content's to_user_id / to_open_id, user_template_id and data (a JSON
string) required (40001 / 40004 otherwise); answers
{"alipay_open_app_mini_templatemessage_send_response": {"code": "10000", "msg": "Success"},
"sign": "<RSA2 over the response object's text with Alipay's key>"}."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels_app.providers.alipay_mp import signing
from channels_app.providers.fakes_http import Recorded, Reply

METHOD = "alipay.open.app.mini.templatemessage.send"
RESPONSE_KEY = METHOD.replace(".", "_") + "_response"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class FakeAlipay:
    """Keys are made per fake: `app_private_key` is what the account holds, the fake keeps
    the app's public key to check requests and signs its answers with Alipay's key."""

    app_id = "2021004100000001"

    def __init__(self) -> None:
        self._app_key = _new_key()
        self._alipay_key = _new_key()
        self.app_private_key = private_pem(self._app_key)
        self.alipay_public_key = public_pem(self._alipay_key)
        self.templates = {"TPL-ORDER-SHIPPED"}
        self.sent: list[dict[str, Any]] = []
        self.answer_with: dict[str, Any] | None = None  # e.g. {"code": "20000", …}
        self.sign_answers_with: rsa.RSAPrivateKey | None = None  # a forger's key
        self._lock = threading.Lock()

    @property
    def config(self) -> dict[str, str]:
        return {
            "app_id": self.app_id,
            "private_key": self.app_private_key,
            "alipay_public_key": self.alipay_public_key,
        }

    def __call__(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/gateway.do":
            return Reply(status=404, body=b"Not Found")
        params = {
            k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        return self._answer(self._handle(params))

    def _handle(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("app_id", "method", "charset", "sign_type", "sign", "timestamp", "version"):
            if not params.get(name):
                return _error("40001", "Missing Required Arguments", f"isv.missing-{name}")
        if params["app_id"] != self.app_id:
            return _error("40002", "Invalid Arguments", "isv.invalid-app-id")
        if params["method"] != METHOD:
            return _error("40002", "Invalid Arguments", "isv.invalid-method")
        if params["sign_type"] != "RSA2" or not signing.verify(
            signing.content_to_sign(params), params["sign"], self._app_key.public_key()
        ):
            return _error("40002", "Invalid Arguments", "isv.invalid-signature")
        sent_at = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
        now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
        if abs(now - sent_at) > timedelta(minutes=15):
            return _error("40002", "Invalid Arguments", "isv.invalid-timestamp")
        try:
            biz = json.loads(params.get("biz_content") or "")
            data = json.loads(biz["data"])
        except (ValueError, KeyError, TypeError):
            return _error("40002", "Invalid Arguments", "isv.invalid-biz-content")
        receiver = biz.get("to_user_id") or biz.get("to_open_id")
        if not receiver or not isinstance(data, dict):
            return _error("40001", "Missing Required Arguments", "isv.missing-to-user-id")
        if biz.get("user_template_id") not in self.templates:
            return _error("40004", "Business Failed", "USER_TEMPLATE_ID_NOT_EXIST")
        if self.answer_with is not None:
            return self.answer_with
        with self._lock:
            self.sent.append({**biz, "data": data})
        return {"code": "10000", "msg": "Success"}

    def _answer(self, section: dict[str, Any]) -> Reply:
        text = json.dumps(section, ensure_ascii=False, separators=(",", ":"))
        key = self.sign_answers_with or self._alipay_key
        signature = signing.sign_bytes(text.encode(), key) if section["code"] == "10000" else ""
        body = '{"' + RESPONSE_KEY + '":' + text + ',"sign":"' + signature + '"}'
        return Reply(body=body.encode(), headers={"Content-Type": "text/html;charset=utf-8"})


def _error(code: str, msg: str, sub_code: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_code}


def forger_key() -> rsa.RSAPrivateKey:
    return _new_key()
