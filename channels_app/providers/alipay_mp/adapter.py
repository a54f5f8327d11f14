"""Alipay mini program template / subscribe messages (小程序模板消息) through the open
platform gateway: `alipay.open.app.mini.templatemessage.send`, one call per receiver, RSA2
signed with the app's private key; each answer's signature is checked with Alipay's public
key, so a forged or tampered answer never counts as sent.

Template content: `{"template_id": "…", "data": {"keyword1": "{$item}", …}, "page":
"pages/index/index?id=1"}`; the receiver is the user's Alipay user id (2088…) or open id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.alipay_mp import signing
from channels_app.providers.base import (
    DeliveryError,
    OutboundMessage,
    ProviderAdapter,
    SendResult,
    excerpt,
)
from channels_app.providers.http import http_request, raise_for_status

METHOD = "alipay.open.app.mini.templatemessage.send"
CHINA = ZoneInfo("Asia/Shanghai")
_USER_ID = re.compile(r"^2088\d{12}$")
# Gateway codes (https://opendocs.alipay.com/common/02km9f): 20000 service unavailable is
# transient; 20001 auth, 40001 missing / 40002 invalid parameter (bad signature, app id),
# 40004 business failure (template, subscription), 40006 no permission are permanent.
_TRANSIENT_CODES = {"20000"}


def _key_field(kind: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        try:
            (signing.private_key if kind == "private" else signing.public_key)(value)
        except signing.KeyInvalid as error:
            raise serializers.ValidationError(str(error)) from None

    return check


class AlipayMPConfig(serializers.Serializer):
    app_id = serializers.RegexField(r"^\d{16}$", help_text="The mini program's 16-digit APPID.")
    private_key = serializers.CharField(
        validators=[_key_field("private")],
        help_text="The app's RSA2 private key (PKCS#8 or PKCS#1, PEM or base64 body).",
    )
    alipay_public_key = serializers.CharField(
        validators=[_key_field("public")],
        help_text="Alipay's public key (not the app's): checks the signature of each answer.",
    )


def classify(answer: dict[str, Any]) -> DeliveryError:
    code = str(answer.get("code", ""))
    sub_code = str(answer.get("sub_code") or "")
    text = " ".join(
        str(part) for part in (answer.get("msg"), sub_code, answer.get("sub_msg")) if part
    )
    reason = f"Alipay {code}: {text}"[:300]
    if "limit" in sub_code.lower():
        return DeliveryError(reason, rate_limited=True, code=sub_code)
    if code in _TRANSIENT_CODES:
        return DeliveryError(reason, code=sub_code or code)
    return DeliveryError(reason, permanent=True, code=sub_code or code)


class AlipayMPAdapter(ProviderAdapter):
    provider = "alipay_mp"
    label = "Alipay mini program (template message)"
    channels = (Channel.ALIPAY_MP,)
    max_batch_size = 1  # one receiver per call
    default_base_url = "https://openapi.alipay.com"
    config_serializer = AlipayMPConfig
    secret_fields = ("private_key",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors: dict[str, str] = {}
        if not isinstance(content.get("template_id"), str) or not content["template_id"].strip():
            errors["content.template_id"] = "the Alipay user_template_id"
        data = content.get("data")
        if (
            not isinstance(data, dict)
            or not data
            or not all(
                isinstance(k, str) and isinstance(v, str | int | float) for k, v in data.items()
            )
        ):
            errors["content.data"] = 'an object of keywords, e.g. {"keyword1": "{$item}"}'
        if "page" in content and not isinstance(content["page"], str):
            errors["content.page"] = "must be a string (a page of the mini program)"
        if errors:
            raise serializers.ValidationError(errors)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        return [self._send_one(message) for message in messages]

    def _send_one(self, message: OutboundMessage) -> SendResult:
        try:
            self._call(self._biz_content(message))
        except DeliveryError as error:
            return SendResult(error=error)
        return SendResult()  # Alipay returns no message id for this API

    def _biz_content(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        receiver = "to_user_id" if _USER_ID.match(message.receiver) else "to_open_id"
        data = {name: {"value": str(value)} for name, value in content["data"].items()}
        biz: dict[str, Any] = {
            receiver: message.receiver,
            "user_template_id": content["template_id"],
            "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        }
        if content.get("page"):
            biz["page"] = content["page"]
        return biz

    def _call(self, biz: dict[str, Any]) -> dict[str, Any]:
        params = {
            "app_id": self.config["app_id"],
            "method": METHOD,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        try:
            key = signing.private_key(self.config["private_key"])
        except signing.KeyInvalid as error:
            raise DeliveryError(f"Alipay: {error}", permanent=True, code="bad_key") from None
        params["sign"] = signing.sign(params, key)
        response = http_request(
            "POST", f"{self.base_url}/gateway.do", data=params, check_status=False
        )
        raise_for_status(response)
        return self._answer(response.text)

    def _answer(self, text: str) -> dict[str, Any]:
        try:
            signed, answer = signing.response_section(text, METHOD)
            signature = str(json.loads(text).get("sign") or "")
        except (ValueError, AttributeError):
            # The send may have happened: not permanent, and not counted as sent.
            raise DeliveryError(
                f"unexpected Alipay answer: {excerpt(text)}", code="bad_response"
            ) from None
        if str(answer.get("code")) == "10000":
            alipay_key = signing.public_key(self.config["alipay_public_key"])
            if not signing.verify(signed, signature, alipay_key):
                # Permanent: Alipay may well have sent it, and a retry would send it again;
                # the usual cause is a wrong alipay_public_key in the account.
                raise DeliveryError(
                    "Alipay's answer is not signed by Alipay's key (check alipay_public_key)",
                    permanent=True,
                    code="bad_signature",
                )
            return answer
        # Errors on a bad request signature come unsigned; they are failures either way.
        raise classify(answer)
