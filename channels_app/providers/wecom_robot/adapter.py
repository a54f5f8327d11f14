"""WeCom (企业微信) group robot: POST /cgi-bin/webhook/send?key=KEY, one call per message.

The key in the account config names the group, so the receiver is only a label (a chat
name). Template content is the WeCom app's flat shape for text, markdown and news; text may
add `mentioned_list` (userids, "@all") and `mentioned_mobile_list`, as lists or "a,b" strings.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request
from channels_app.providers.wecom_app.common import (
    as_list,
    json_body,
    message_body,
    validate_wecom_content,
    wecom_error,
)

MSGTYPES = ("text", "markdown", "news")


class WeComRobotConfig(serializers.Serializer):
    key = serializers.CharField(max_length=128, help_text="The key= of the robot's webhook URL")


class WeComRobotAdapter(ProviderAdapter):
    provider = "wecom_robot"
    label = "WeCom group robot"
    channels = (Channel.WECOM,)
    default_base_url = "https://qyapi.weixin.qq.com"
    config_serializer = WeComRobotConfig
    secret_fields = ("key",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        validate_wecom_content(content, MSGTYPES, article_url_required=True)
        for name in ("mentioned_list", "mentioned_mobile_list"):
            if name in content and not isinstance(content[name], list | str):
                raise serializers.ValidationError({f"content.{name}": 'a list or a "a,b" string'})

    def send_one(self, message: OutboundMessage) -> SendResult:
        self._post(self.payload(message))
        return SendResult()  # The robot API returns no message id

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        body = message_body(content)
        if body["msgtype"] == "text":
            for name in ("mentioned_list", "mentioned_mobile_list"):
                values = as_list(content.get(name))
                if values:
                    body["text"][name] = values
        return body

    def _post(self, payload: dict[str, Any]) -> None:
        response = http_request(
            "POST",
            f"{self.base_url}/cgi-bin/webhook/send",
            params={"key": self.config["key"]},
            json=payload,
        )
        body = json_body(response)
        code = int(body.get("errcode") or 0)
        if code:
            raise wecom_error(code, str(body.get("errmsg", "")))
