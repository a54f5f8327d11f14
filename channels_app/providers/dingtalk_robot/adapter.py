"""DingTalk custom robot (自定义机器人): POST /robot/send?access_token=T, one call per message,
signed (加签) when the robot has a secret. The access_token names the group, so the receiver
is only a label. Content is the DingTalk flat shape (see dingtalk_common) plus @mentions:
`at_mobiles`, `at_user_ids` (lists or "a,b" strings) and `is_at_all`.
Images: robots have no upload API, so `{"msgtype": "image", "media": {"url": …}, "title": …}`
is sent as a markdown message showing the image from its (public) URL; files cannot be sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.dingtalk_common import (
    dingtalk_error,
    json_body,
    msgtype_of,
    validate_dingtalk_content,
)
from channels_app.providers.http import http_request
from channels_app.providers.wecom_common import as_list

MSGTYPES = ("text", "markdown", "link", "action_card")
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


class DingTalkRobotConfig(serializers.Serializer):
    access_token = serializers.CharField(max_length=256)
    secret = serializers.CharField(
        max_length=256,
        required=False,
        allow_blank=True,
        default="",
        help_text="加签 secret (SEC...)",
    )


def sign(secret: str, timestamp_ms: str) -> str:
    """base64(HmacSHA256(key=secret, msg=timestamp + "\\n" + secret)); the URL-encoding is done
    by the query-string encoder."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes")


class DingTalkRobotAdapter(ProviderAdapter):
    provider = "dingtalk_robot"
    label = "DingTalk group robot"
    channels = (Channel.DINGTALK,)
    default_base_url = "https://oapi.dingtalk.com"
    config_serializer = DingTalkRobotConfig
    secret_fields = ("access_token", "secret")

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        if msgtype_of(content) in ("image", "file"):
            _validate_image(content)
            return
        validate_dingtalk_content(content, MSGTYPES, link_pic_required=False)
        for name in ("at_mobiles", "at_user_ids"):
            if name in content and not isinstance(content[name], list | str):
                raise serializers.ValidationError({f"content.{name}": 'a list or a "a,b" string'})

    def send_one(self, message: OutboundMessage) -> SendResult:
        self._post(self.payload(message))
        return SendResult()  # the robot API returns no message id

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        msgtype = msgtype_of(content)
        if msgtype == "image":
            title = str(content.get("title") or "image")
            markdown = {"title": title, "text": f"![{title}]({content['media']['url']})"}
            body: dict[str, Any] = {"msgtype": "markdown", "markdown": markdown}
        elif msgtype == "text":
            body = {"msgtype": "text", "text": {"content": str(content["content"])}}
        elif msgtype == "markdown":
            body = {
                "msgtype": "markdown",
                "markdown": {"title": content["title"], "text": content["text"]},
            }
        elif msgtype == "link":
            link = {
                "title": content["title"],
                "text": content["text"],
                "messageUrl": content["message_url"],
            }
            if content.get("pic_url"):
                link["picUrl"] = content["pic_url"]
            body = {"msgtype": "link", "link": link}
        else:
            card: dict[str, Any] = {"title": content["title"], "text": content["text"]}
            if content.get("buttons"):
                card["btnOrientation"] = str(content.get("btn_orientation", "0"))
                card["btns"] = [
                    {"title": b["title"], "actionURL": b["url"]} for b in content["buttons"]
                ]
            else:
                card["singleTitle"] = content["single_title"]
                card["singleURL"] = content["single_url"]
            body = {"msgtype": "actionCard", "actionCard": card}
        at = {
            "atMobiles": as_list(content.get("at_mobiles")),
            "atUserIds": as_list(content.get("at_user_ids")),
            "isAtAll": _truthy(content.get("is_at_all")),
        }
        if any(at.values()):
            body["at"] = at
        return body

    def _post(self, payload: dict[str, Any]) -> None:
        params = {"access_token": self.config["access_token"]}
        if self.config.get("secret"):
            timestamp = str(int(time.time() * 1000))
            params.update(timestamp=timestamp, sign=sign(self.config["secret"], timestamp))
        response = http_request("POST", f"{self.base_url}/robot/send", params=params, json=payload)
        body = json_body(response)
        code = int(body.get("errcode") or 0)
        if code:
            raise dingtalk_error(code, str(body.get("errmsg", "")))


def _validate_image(content: dict[str, Any]) -> None:
    """Robots show images by URL only (their clients fetch it): no inline files, no file type."""
    if msgtype_of(content) == "file":
        raise serializers.ValidationError(
            {"content.msgtype": "DingTalk robots cannot send files (use a work notice)"}
        )
    item = content.get("media")
    url = item.get("url") if isinstance(item, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://", "{$")):
        raise serializers.ValidationError(
            {"content.media.url": "DingTalk robots show images by public http(s) URL only"}
        )
    path = url.split("?", 1)[0].lower()
    if "{$" not in url and not path.endswith(IMAGE_TYPES):
        raise serializers.ValidationError(
            {"content.media.url": f"an image URL ({', '.join(IMAGE_TYPES)})"}
        )
