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
from channels_app.providers.feishu_bot.media import IMAGE_LIMITS, FeishuImages
from channels_app.providers.feishu_common import validate_feishu_content
from channels_app.providers.http import http_request

MSG_TYPES = ("text", "post", "interactive", "image")
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
    app_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="",
        help_text="For image messages: a Feishu app (cli_…) of the same tenant that uploads them",
    )  # fmt: skip
    app_secret = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("app_id")) != bool(attrs.get("app_secret")):
            raise serializers.ValidationError({"app_secret": "give app_id and app_secret together"})
        return attrs


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
    secret_fields = ("token", "secret", "app_secret")

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        validate_feishu_content(content, MSG_TYPES, IMAGE_LIMITS)

    def send_one(self, message: OutboundMessage) -> SendResult:
        self._post(self.payload(message))
        return SendResult()  # the bot API returns no message id

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        msg_type = content.get("msg_type", "text")
        if msg_type == "image":
            body: dict[str, Any] = {
                "msg_type": "image",
                "content": {"image_key": self._image_key(content)},
            }
        elif msg_type == "text":
            body = {"msg_type": "text", "content": {"text": str(content["text"])}}
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

    def _image_key(self, content: dict[str, Any]) -> str:
        if not self.config.get("app_id"):
            raise DeliveryError(
                "feishu: image messages need the account's app_id and app_secret (bots cannot upload)",
                permanent=True,
                code="media",
            )
        images = FeishuImages(
            self.base_url, self.config["app_id"], self.config["app_secret"], feishu_error
        )
        return images.image_key(content["media"])

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
