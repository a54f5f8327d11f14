"""WeChat Mini Program subscribe messages (订阅消息), one POST per receiver openid.

Template content: `{"template_id": "...", "data": {"thing1": "{$item}", ...}, "page": "...",
"miniprogram_state": "formal", "lang": "zh_CN"}`; state and lang default to the account's.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import OutboundMessage
from channels_app.providers.wechat_common import (
    WeChatAdapter,
    WeChatConfig,
    data_payload,
    validate_template_fields,
)

STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")


class WeChatMPConfig(WeChatConfig):
    miniprogram_state = serializers.ChoiceField(choices=STATES, default="formal")
    lang = serializers.ChoiceField(choices=LANGS, default="zh_CN")


class WeChatMPAdapter(WeChatAdapter):
    provider = "wechat_mp"
    label = "WeChat mini program (subscribe message)"
    channels = (Channel.WECHAT_MP,)
    config_serializer = WeChatMPConfig
    send_path = "/cgi-bin/message/subscribe/send"

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors = validate_template_fields(content)
        if "page" in content and not isinstance(content["page"], str):
            errors["content.page"] = "must be a string"
        if content.get("miniprogram_state", STATES[-1]) not in STATES:
            errors["content.miniprogram_state"] = f"must be one of {', '.join(STATES)}"
        if content.get("lang", LANGS[0]) not in LANGS:
            errors["content.lang"] = f"must be one of {', '.join(LANGS)}"
        if errors:
            raise serializers.ValidationError(errors)

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        payload: dict[str, Any] = {
            "touser": message.receiver,
            "template_id": content["template_id"],
            "data": data_payload(content["data"]),
            "miniprogram_state": content.get("miniprogram_state")
            or self.config.get("miniprogram_state", "formal"),
            "lang": content.get("lang") or self.config.get("lang", "zh_CN"),
        }
        if content.get("page"):
            payload["page"] = content["page"]
        return payload
