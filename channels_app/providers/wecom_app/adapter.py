"""WeCom (企业微信) app messages: one /cgi-bin/message/send per distinct content, with up to
1000 receivers joined by "|" in `touser`. Receivers are WeCom userids.

Template content is flat: `{"msgtype": "text"|"markdown", "content": "..."}`,
`{"msgtype": "textcard", "title", "description", "url", "btntxt"}`,
`{"msgtype": "news", "articles": [{"title", "description", "url", "picurl"}]}` or
`{"msgtype": "image"|"file", "media": {"url": …} | {"file": …} | {"content_base64": …, "filename": …}}`
(uploaded once per app through /cgi-bin/media/upload; WeCom keeps media 3 days).

Receipts: WeCom documents no read or delivery state for app messages (its statistics API
counts messages per app and day, not per message), so the trace ends at SENT by design. What
the send answer does say is per receiver: users listed in `invaliduser` (unknown or outside
the app's visible range) or `unlicenseduser` (no interface license) were skipped, and those
messages go on to UNDELIVERED with that reason.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.attachments import Attachment
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request
from channels_app.providers.media import uploaded_media_id, validate_media
from channels_app.providers.token_api import AccessTokenApi
from channels_app.providers.wecom_common import (
    MEDIA_LIMITS,
    MEDIA_TTL_SECONDS,
    batch_by_content,
    json_body,
    message_body,
    validate_wecom_content,
    wecom_error,
)

MSGTYPES = ("text", "markdown", "textcard", "news", "image", "file")
MAX_USERS_PER_CALL = 1000


class WeComAppConfig(serializers.Serializer):
    corpid = serializers.CharField(max_length=64)
    corpsecret = serializers.CharField(max_length=128)
    agentid = serializers.IntegerField(min_value=0)
    safe = serializers.BooleanField(default=False, help_text="Confidential message (no forwarding)")
    enable_duplicate_check = serializers.BooleanField(default=False)
    duplicate_check_interval = serializers.IntegerField(min_value=1, max_value=14400, default=1800)


class WeComAppAdapter(AccessTokenApi, ProviderAdapter):
    provider = "wecom_app"
    label = "WeCom app message"
    channels = (Channel.WECOM,)
    max_batch_size = MAX_USERS_PER_CALL
    default_base_url = "https://qyapi.weixin.qq.com"
    config_serializer = WeComAppConfig
    secret_fields = ("corpsecret",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        limits = MEDIA_LIMITS.get(content.get("msgtype", "text"))
        if limits is not None:
            if errors := validate_media(content, limits):
                raise serializers.ValidationError(errors)
            return
        validate_wecom_content(content, MSGTYPES, article_url_required=False)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        for group in batch_by_content(messages, self._body, MAX_USERS_PER_CALL):
            receivers = [messages[index].receiver for index in group]
            try:
                body = self.call(
                    "/cgi-bin/message/send", self._payload(messages[group[0]], receivers)
                )
            except DeliveryError as error:
                # Other groups may already be delivered: fail only this one.
                for index in group:
                    results[index] = SendResult(error=error)
                continue
            rejected = _rejected_users(body)
            msgid = str(body.get("msgid", ""))
            for index in group:
                # WeCom sent the call and skipped these users: SENT, then UNDELIVERED.
                results[index] = SendResult(
                    provider_message_id=msgid,
                    undelivered=rejected.get(messages[index].receiver.lower(), ""),
                )
        return [result for result in results if result is not None]

    def recall(self, provider_message_id: str) -> None:
        """Withdraw a message sent within the last 24 hours (from every receiver of its call)."""
        self.call("/cgi-bin/message/recall", {"msgid": provider_message_id})

    def _body(self, message: OutboundMessage) -> dict[str, Any]:
        msgtype = message.content.get("msgtype", "text")
        if msgtype in MEDIA_LIMITS:
            return {
                msgtype: {"media_id": self._media_id(msgtype, message.content)},
                "msgtype": msgtype,
            }
        return message_body(message.content)

    def _media_id(self, msgtype: str, content: dict[str, Any]) -> str:
        def upload(attachment: Attachment) -> str:
            files = {"media": (attachment.filename, attachment.content, attachment.mimetype)}
            body = self.upload("/cgi-bin/media/upload", {"type": msgtype}, files)
            return str(body["media_id"])

        scope = f"{self.token_name}:{msgtype}"
        return uploaded_media_id(
            scope, content["media"], MEDIA_LIMITS[msgtype], upload, MEDIA_TTL_SECONDS
        )

    def _payload(self, message: OutboundMessage, receivers: list[str]) -> dict[str, Any]:
        return {
            "touser": "|".join(receivers),
            "agentid": self.config["agentid"],
            **self._body(message),
            "safe": int(bool(self.config.get("safe"))),
            "enable_duplicate_check": int(bool(self.config.get("enable_duplicate_check"))),
            "duplicate_check_interval": self.config.get("duplicate_check_interval", 1800),
        }

    @property
    def token_name(self) -> str:
        # One token per corp app; the secret's digest tells apps of one corp apart without
        # putting the secret in a cache key.
        digest = hashlib.sha256(self.config["corpsecret"].encode()).hexdigest()[:16]
        return f"wecom:{self.config['corpid']}:{digest}"

    def api_error(self, code: int, message: str) -> DeliveryError:
        return wecom_error(code, message)

    def _fetch_token(self) -> tuple[str, int]:
        response = http_request(
            "GET",
            f"{self.base_url}/cgi-bin/gettoken",
            params={"corpid": self.config["corpid"], "corpsecret": self.config["corpsecret"]},
        )
        body = json_body(response)
        code = int(body.get("errcode") or 0)
        if code or not body.get("access_token"):
            raise wecom_error(code or -1, str(body.get("errmsg", "no token")), token_fetch=True)
        return str(body["access_token"]), int(body.get("expires_in") or 7200)


def _rejected_users(body: dict[str, Any]) -> dict[str, str]:
    """Lower-cased userid -> reason for receivers WeCom skipped in an accepted call (its
    answer lists them lower-cased)."""
    rejected: dict[str, str] = {}
    for field, why in (
        ("invaliduser", "wecom: invaliduser (unknown userid or outside the app's range)"),
        ("unlicenseduser", "wecom: unlicenseduser (user has no WeCom license)"),
    ):
        for user in str(body.get(field) or "").split("|"):
            if user:
                rejected[user.lower()] = why
    return rejected
