"""Telegram Bot API: `POST {base}/bot{token}/sendMessage`, one call per message.

The provider id is "<chat_id>:<message_id>": Telegram message ids are only unique per chat,
and `recall` needs both to call deleteMessage. The bot token sits in the URL path, so no URL
ever goes into an error (http_request already never includes it).

Media: `{"media_type": "photo"|"document", "media": {"url": …} | {"content_base64": …,
"filename": …}, "caption": "…"}` goes through sendPhoto / sendDocument. The first send of a
file uploads it (multipart); Telegram's file_id is then cached per bot and content and
reused, so a broadcast uploads each file once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request
from channels_app.providers.media import (
    MB,
    MediaLimits,
    cached_media_id,
    media_load,
    remember_media_id,
    validate_media,
)

PARSE_MODES = ("Markdown", "MarkdownV2", "HTML")
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
# Bot API upload limits (multipart): photos 10 MB, other files 50 MB.
MEDIA_LIMITS = {"photo": MediaLimits(10 * MB, ("image/*",)), "document": MediaLimits(50 * MB)}
METHODS = {"photo": "sendPhoto", "document": "sendDocument"}
FILE_ID_TTL_SECONDS = 30 * 24 * 3600
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


class TelegramConfig(serializers.Serializer):
    bot_token = serializers.CharField(help_text="From @BotFather, like 123456:ABC-DEF…")
    parse_mode = serializers.ChoiceField(
        choices=["", *PARSE_MODES], required=False, allow_blank=True, default=""
    )
    disable_web_page_preview = serializers.BooleanField(default=False)
    disable_notification = serializers.BooleanField(default=False)

    def validate_bot_token(self, value: str) -> str:
        if not _TOKEN_RE.match(value):
            raise serializers.ValidationError("expected '<bot id>:<secret>' as given by BotFather")
        return value


class TelegramAdapter(ProviderAdapter):
    provider = "telegram"
    label = "Telegram Bot API"
    channels = (Channel.TELEGRAM,)
    default_base_url = "https://api.telegram.org"
    config_serializer = TelegramConfig
    secret_fields = ("bot_token",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        if "media_type" in content:
            _validate_media_content(content)
            return
        errors = {}
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            errors["content.text"] = "a Telegram message needs a text"
        elif len(text) > MAX_TEXT_LENGTH:
            errors["content.text"] = f"Telegram allows at most {MAX_TEXT_LENGTH} characters"
        parse_mode = content.get("parse_mode")
        if parse_mode not in (None, "", *PARSE_MODES):
            errors["content.parse_mode"] = f"one of {', '.join(PARSE_MODES)}"
        if errors:
            raise serializers.ValidationError(errors)

    def send_one(self, message: OutboundMessage) -> SendResult:
        return SendResult(provider_message_id=self._send_one(message))

    def stops_batch(self, error: DeliveryError) -> bool:
        # A revoked token (401) or a wrong one (404) fails every following message too.
        return super().stops_batch(error) or error.code in ("401", "404")

    def recall(self, provider_message_id: str) -> None:
        """Delete a sent message (Telegram allows it for 48 hours)."""
        chat_id, _, message_id = provider_message_id.rpartition(":")
        if not chat_id or not message_id.isdigit():
            raise DeliveryError(
                "not a Telegram provider id '<chat_id>:<message_id>'",
                permanent=True,
                code="bad_id",
            )
        self._call("deleteMessage", {"chat_id": chat_id, "message_id": int(message_id)})

    def _send_one(self, message: OutboundMessage) -> str:
        if "media_type" in message.content:
            result = self._send_media(message)
        else:
            result = self._send_text(message)
        chat_id = (result.get("chat") or {}).get("id", message.receiver)
        return f"{chat_id}:{result['message_id']}"

    def _send_media(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        kind = content["media_type"]
        fields: dict[str, Any] = {"chat_id": message.receiver}
        if content.get("caption"):
            fields["caption"] = content["caption"]
            if parse_mode := content.get("parse_mode") or self.config.get("parse_mode"):
                fields["parse_mode"] = parse_mode
        if self.config.get("disable_notification"):
            fields["disable_notification"] = True
        scope = f"telegram:{self.config['bot_token'].split(':', 1)[0]}:{kind}"
        file_id = cached_media_id(scope, content["media"])
        if file_id:
            return self._call(METHODS[kind], {**fields, kind: file_id})
        attachment = media_load(content["media"], MEDIA_LIMITS[kind])
        result = self._call(
            METHODS[kind],
            None,
            data={k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()},
            files={kind: (attachment.filename, attachment.content, attachment.mimetype)},
        )
        if uploaded := _file_id(kind, result):
            remember_media_id(scope, content["media"], attachment, uploaded, FILE_ID_TTL_SECONDS)
        return result

    def _send_text(self, message: OutboundMessage) -> dict[str, Any]:
        content = message.content
        payload: dict[str, Any] = {"chat_id": message.receiver, "text": content["text"]}
        parse_mode = content.get("parse_mode") or self.config.get("parse_mode")
        if parse_mode:
            payload["parse_mode"] = parse_mode
        if self.config.get("disable_web_page_preview"):
            payload["disable_web_page_preview"] = True
        if self.config.get("disable_notification"):
            payload["disable_notification"] = True
        return self._call("sendMessage", payload)

    def _call(self, method: str, payload: dict[str, Any] | None, **multipart: Any) -> Any:
        url = f"{self.base_url}/bot{self.config['bot_token']}/{method}"
        body_args = multipart if payload is None else {"json": payload}
        response = http_request("POST", url, check_status=False, **body_args)
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        raise _error(response.status_code, body if isinstance(body, dict) else {})


def _error(status: int, body: dict[str, Any]) -> DeliveryError:
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
    description = str(body.get("description") or f"HTTP {status}")[:300]
    parameters = body.get("parameters") or {}
    if code == 429:
        return DeliveryError(
            f"Telegram rate limit: {description}",
            rate_limited=True,
            retry_after=parameters.get("retry_after"),
            code="429",
        )
    if code >= 500 or status >= 500:
        return DeliveryError(f"Telegram server error: {description}", code=str(code))
    if "migrate_to_chat_id" in parameters:
        # The group became a supergroup: the receiver must be updated, a retry won't help.
        description += f" (new chat id {parameters['migrate_to_chat_id']})"
    # 400 chat not found / bad text, 401 bad token, 403 blocked or kicked, 404 wrong token shape.
    return DeliveryError(f"Telegram refused: {description}", permanent=True, code=str(code))


def _file_id(kind: str, result: dict[str, Any]) -> str:
    """The reusable file_id of what was just uploaded (a photo: its largest size)."""
    sent = result.get(kind)
    if kind == "photo" and isinstance(sent, list) and sent:
        sent = sent[-1]
    return str(sent.get("file_id") or "") if isinstance(sent, dict) else ""


def _validate_media_content(content: dict[str, Any]) -> None:
    kind = content.get("media_type")
    if kind not in MEDIA_LIMITS:
        raise serializers.ValidationError({"content.media_type": "photo or document"})
    errors = validate_media(content, MEDIA_LIMITS[kind])
    caption = content.get("caption", "")
    if not isinstance(caption, str) or len(caption) > MAX_CAPTION_LENGTH:
        errors["content.caption"] = f"a text of at most {MAX_CAPTION_LENGTH} characters"
    if errors:
        raise serializers.ValidationError(errors)
