"""Feishu / Lark custom bot (自定义机器人): POST /open-apis/bot/v2/hook/{token}, one call per
message, signed when the bot has a secret. The token names the group, so the receiver is only
a label. For Lark, set the account's base_url to https://open.larksuite.com.

Template content: `{"msg_type": "text", "text": "..."}`; `{"msg_type": "post", "title": "...",
"text": "line 1\\nline 2"}` or a native `"post": {"zh_cn": {...}}`; `{"msg_type":
"interactive", "card": {...}}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request

MSG_TYPES = ("text", "post", "interactive")
RATE_LIMITED = frozenset({11232, 11233})  # 100 a minute / 5 a second per bot
PERMANENT = frozenset(
    {
        9499,  # bad request (malformed body)
        19001,  # hook token invalid
        19002,  # params invalid
        19021,  # sign mismatch or timestamp more than 1 h off
        19022,  # caller IP not allowed
        19024,  # keyword check failed
        11246,  # content too large
    }
)


class FeishuBotConfig(serializers.Serializer):
    token = serializers.CharField(max_length=256, help_text="The {token} of the hook URL")
    secret = serializers.CharField(
        max_length=256, required=False, allow_blank=True, default="", help_text="Signing secret"
    )


def sign(secret: str, timestamp: str) -> str:
    """base64(HmacSHA256(key=timestamp + "\\n" + secret, msg="")): the key carries the data."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def feishu_error(code: int, message: str) -> DeliveryError:
    reason = f"feishu: {message[:200]}"
    if code in RATE_LIMITED:
        return DeliveryError(reason, rate_limited=True, code=str(code))
    return DeliveryError(reason, permanent=code in PERMANENT, code=str(code))


class FeishuBotAdapter(ProviderAdapter):
    provider = "feishu_bot"
    label = "Feishu / Lark group bot"
    channels = (Channel.FEISHU,)
    default_base_url = "https://open.feishu.cn"
    config_serializer = FeishuBotConfig
    secret_fields = ("token", "secret")

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        msg_type = content.get("msg_type", "text")
        errors: dict[str, str] = {}
        if msg_type not in MSG_TYPES:
            errors["content.msg_type"] = f"must be one of {', '.join(MSG_TYPES)}, not {msg_type!r}"
        elif msg_type == "text" and not content.get("text"):
            errors["content.text"] = "required for msg_type text"
        elif msg_type == "post" and "post" in content:
            if not isinstance(content["post"], dict) or not content["post"]:
                errors["content.post"] = (
                    'an object like {"zh_cn": {"title": ..., "content": [...]}}'
                )
        elif msg_type == "post":
            for name in ("title", "text"):
                if not content.get(name):
                    errors[f"content.{name}"] = "required for msg_type post (or give content.post)"
        elif msg_type == "interactive" and (
            not isinstance(content.get("card"), dict) or not content["card"]
        ):
            errors["content.card"] = "a card object is required for msg_type interactive"
        if errors:
            raise serializers.ValidationError(errors)

    def send_one(self, message: OutboundMessage) -> SendResult:
        self._post(self.payload(message))
        return SendResult()  # the bot API returns no message id

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        msg_type = content.get("msg_type", "text")
        if msg_type == "text":
            body: dict[str, Any] = {"msg_type": "text", "content": {"text": str(content["text"])}}
        elif msg_type == "post":
            post = content.get("post") or {
                "zh_cn": {
                    "title": content["title"],
                    "content": [
                        [{"tag": "text", "text": line}] for line in str(content["text"]).split("\n")
                    ],
                }
            }
            body = {"msg_type": "post", "content": {"post": post}}
        else:
            body = {"msg_type": "interactive", "card": content["card"]}
        if self.config.get("secret"):
            timestamp = str(int(time.time()))
            body.update(timestamp=timestamp, sign=sign(self.config["secret"], timestamp))
        return body

    def _post(self, payload: dict[str, Any]) -> None:
        response = http_request(
            "POST", f"{self.base_url}/open-apis/bot/v2/hook/{self.config['token']}", json=payload
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise DeliveryError("feishu: answer is not a JSON object", code="bad_response")
        # Older answers carry StatusCode/StatusMessage instead of code/msg.
        code = int(body.get("code", body.get("StatusCode")) or 0)
        if code:
            raise feishu_error(code, str(body.get("msg") or body.get("StatusMessage") or ""))
