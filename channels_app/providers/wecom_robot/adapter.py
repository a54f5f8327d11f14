"""WeCom (企业微信) group robot: POST /cgi-bin/webhook/send?key=KEY, one call per message.

The key in the account config names the group, so the receiver is only a label (a chat
name). Template content is the WeCom app's flat shape for text, markdown and news; text may
add `mentioned_list` (userids, "@all") and `mentioned_mobile_list`, as lists or "a,b" strings.
Media: `{"msgtype": "image", "media": …}` goes inline (base64 + MD5, JPG/PNG up to 2 MB);
`{"msgtype": "file", "media": …}` is uploaded once per robot (/cgi-bin/webhook/upload_media).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.attachments import Attachment
from channels_app.providers.base import OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request
from channels_app.providers.media import (
    MB,
    MediaLimits,
    media_load,
    uploaded_media_id,
    validate_media,
)
from channels_app.providers.wecom_common import (
    MEDIA_TTL_SECONDS,
    as_list,
    json_body,
    message_body,
    validate_wecom_content,
    wecom_error,
)

MSGTYPES = ("text", "markdown", "news", "image", "file")
# The robot API's limits: an inline image, or a file uploaded first.
MEDIA_LIMITS = {
    "image": MediaLimits(2 * MB, ("image/jpeg", "image/png")),
    "file": MediaLimits(20 * MB),
}


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
        limits = MEDIA_LIMITS.get(content.get("msgtype", "text"))
        if limits is not None:
            if errors := validate_media(content, limits):
                raise serializers.ValidationError(errors)
            return
        validate_wecom_content(content, MSGTYPES, article_url_required=True)
        for name in ("mentioned_list", "mentioned_mobile_list"):
            if name in content and not isinstance(content[name], list | str):
                raise serializers.ValidationError({f"content.{name}": 'a list or a "a,b" string'})

    def send_one(self, message: OutboundMessage) -> SendResult:
        self._post(self.payload(message))
        return SendResult()  # The robot API returns no message id

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        if content.get("msgtype") == "image":
            image = media_load(content["media"], MEDIA_LIMITS["image"]).content
            inline = {
                "base64": base64.b64encode(image).decode(),
                # WeCom's checksum of the image, not a security use.
                "md5": hashlib.md5(image, usedforsecurity=False).hexdigest(),
            }
            return {"msgtype": "image", "image": inline}
        if content.get("msgtype") == "file":
            return {"msgtype": "file", "file": {"media_id": self._file_media_id(content["media"])}}
        body = message_body(content)
        if body["msgtype"] == "text":
            for name in ("mentioned_list", "mentioned_mobile_list"):
                values = as_list(content.get(name))
                if values:
                    body["text"][name] = values
        return body

    def _file_media_id(self, item: dict[str, Any]) -> str:
        def upload(attachment: Attachment) -> str:
            response = http_request(
                "POST",
                f"{self.base_url}/cgi-bin/webhook/upload_media",
                params={"key": self.config["key"], "type": "file"},
                files={"media": (attachment.filename, attachment.content, attachment.mimetype)},
            )
            body = json_body(response)
            code = int(body.get("errcode") or 0)
            if code or not body.get("media_id"):
                raise wecom_error(code or -1, str(body.get("errmsg", "no media_id")))
            return str(body["media_id"])

        robot = hashlib.sha256(self.config["key"].encode()).hexdigest()[:16]
        return uploaded_media_id(
            f"wecom_robot:{robot}:file", item, MEDIA_LIMITS["file"], upload, MEDIA_TTL_SECONDS
        )

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
