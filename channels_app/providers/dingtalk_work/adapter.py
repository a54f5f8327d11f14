"""DingTalk work notices (工作通知): one asyncsend_v2 call per distinct content with the
receivers' userids comma-joined (DingTalk takes 5000; batches here are up to 1000).
The call is asynchronous: task_id is the provider message id, also used to recall.
Media: `{"msgtype": "image"|"file", "media": {"url": …} | {"content_base64": …, "filename": …}}`
is uploaded once per app and content through /media/upload, within DingTalk's limits.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.attachments import Attachment
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.dingtalk_common import (
    MEDIA_LIMITS,
    dingtalk_error,
    error_code,
    json_body,
    msgtype_of,
    validate_dingtalk_content,
)
from channels_app.providers.http import http_request
from channels_app.providers.media import uploaded_media_id, validate_media
from channels_app.providers.token_api import AccessTokenApi
from channels_app.providers.wecom_common import batch_by_content

MSGTYPES = ("text", "markdown", "link", "action_card", "oa", "image", "file")
MEDIA_TTL_SECONDS = 2 * 24 * 3600
MAX_USERS_PER_CALL = 1000


class DingTalkWorkConfig(serializers.Serializer):
    appkey = serializers.CharField(max_length=128)
    appsecret = serializers.CharField(max_length=256)
    agent_id = serializers.IntegerField(min_value=0)


class DingTalkWorkAdapter(AccessTokenApi, ProviderAdapter):
    provider = "dingtalk_work"
    label = "DingTalk work notice"
    channels = (Channel.DINGTALK,)
    max_batch_size = MAX_USERS_PER_CALL
    default_base_url = "https://oapi.dingtalk.com"
    config_serializer = DingTalkWorkConfig
    secret_fields = ("appsecret",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        limits = MEDIA_LIMITS.get(msgtype_of(content))
        if limits is not None:
            if errors := validate_media(content, limits):
                raise serializers.ValidationError(errors)
            return
        validate_dingtalk_content(content, MSGTYPES, link_pic_required=True)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        for group in batch_by_content(messages, self._msg, MAX_USERS_PER_CALL):
            payload = {
                "agent_id": self.config["agent_id"],
                "userid_list": ",".join(messages[index].receiver for index in group),
                "msg": self._msg(messages[group[0]]),
            }
            try:
                body = self.call("/topapi/message/corpconversation/asyncsend_v2", payload)
            except DeliveryError as error:
                result = SendResult(error=error)  # other groups may already be delivered
            else:
                result = SendResult(provider_message_id=str(body.get("task_id", "")))
            for index in group:
                results[index] = result
        return [result for result in results if result is not None]

    def recall(self, provider_message_id: str) -> None:
        """Withdraw a work notice by its task_id."""
        self.call(
            "/topapi/message/corpconversation/recall",
            {"agent_id": self.config["agent_id"], "msg_task_id": provider_message_id},
        )

    def _msg(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        msgtype = msgtype_of(content)
        if msgtype in MEDIA_LIMITS:
            return {"msgtype": msgtype, msgtype: {"media_id": self._media_id(msgtype, content)}}
        if msgtype == "text":
            inner: dict[str, Any] = {"content": str(content["content"])}
        elif msgtype == "markdown":
            inner = {"title": content["title"], "text": content["text"]}
        elif msgtype == "link":
            inner = {
                "title": content["title"],
                "text": content["text"],
                "messageUrl": content["message_url"],
                "picUrl": content["pic_url"],
            }
        elif msgtype == "action_card":
            inner = {"title": content["title"], "markdown": content["text"]}
            if content.get("buttons"):
                inner["btn_orientation"] = str(content.get("btn_orientation", "0"))
                inner["btn_json_list"] = [
                    {"title": b["title"], "action_url": b["url"]} for b in content["buttons"]
                ]
            else:
                inner["single_title"] = content["single_title"]
                inner["single_url"] = content["single_url"]
        else:
            inner = {"message_url": content["message_url"], "body": content["body"]}
            inner["head"] = content.get("head") or {"bgcolor": "FFBBBBBB", "text": ""}
            if content.get("pc_message_url"):
                inner["pc_message_url"] = content["pc_message_url"]
        return {"msgtype": msgtype, msgtype: inner}

    def _media_id(self, msgtype: str, content: dict[str, Any]) -> str:
        def upload(attachment: Attachment) -> str:
            files = {"media": (attachment.filename, attachment.content, attachment.mimetype)}
            return str(self.upload("/media/upload", {"type": msgtype}, files)["media_id"])

        scope = f"{self.token_name}:{msgtype}"
        return uploaded_media_id(
            scope, content["media"], MEDIA_LIMITS[msgtype], upload, MEDIA_TTL_SECONDS
        )

    @property
    def token_name(self) -> str:
        return f"dingtalk:{self.config['appkey']}"

    def api_error(self, code: int, message: str) -> DeliveryError:
        return dingtalk_error(code, message)

    def error_code(self, body: dict[str, Any]) -> int:
        return error_code(body)

    def _fetch_token(self) -> tuple[str, int]:
        response = http_request(
            "GET",
            f"{self.base_url}/gettoken",
            params={"appkey": self.config["appkey"], "appsecret": self.config["appsecret"]},
        )
        body = json_body(response)
        code = error_code(body)
        if code or not body.get("access_token"):
            raise dingtalk_error(code or -1, str(body.get("errmsg", "no token")))
        return str(body["access_token"]), int(body.get("expires_in") or 7200)
