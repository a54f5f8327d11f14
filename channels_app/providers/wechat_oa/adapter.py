"""WeChat Official Account template messages (模板消息), one POST per receiver openid.

Template content: `{"template_id": "...", "data": {"first": "{$name}", ...}, "url": "...",
"miniprogram": {"appid": "...", "pagepath": "..."}}`; data values are rendered by the platform.
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


class WeChatOAAdapter(WeChatAdapter):
    provider = "wechat_oa"
    label = "WeChat official account (template message)"
    channels = (Channel.WECHAT_OA,)
    config_serializer = WeChatConfig
    send_path = "/cgi-bin/message/template/send"

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors = validate_template_fields(content)
        if "url" in content and not isinstance(content["url"], str):
            errors["content.url"] = "must be a string"
        miniprogram = content.get("miniprogram")
        if miniprogram is not None and (
            not isinstance(miniprogram, dict) or not miniprogram.get("appid")
        ):
            errors["content.miniprogram"] = 'must be {"appid": "...", "pagepath": "..."}'
        if errors:
            raise serializers.ValidationError(errors)

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        payload: dict[str, Any] = {
            "touser": message.receiver,
            "template_id": content["template_id"],
            "data": data_payload(content["data"]),
            # WeChat drops a second send with the same openid + client_msg_id (10 min window),
            # so a retry after a lost answer does not reach the user twice.
            "client_msg_id": message.message_id.replace("-", "")[:32],
        }
        if content.get("url"):
            payload["url"] = content["url"]
        if content.get("miniprogram"):
            payload["miniprogram"] = {
                "appid": content["miniprogram"]["appid"],
                "pagepath": content["miniprogram"].get("pagepath", ""),
            }
        return payload
