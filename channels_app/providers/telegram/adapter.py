"""Telegram Bot API: `POST {base}/bot{token}/sendMessage`, one call per message.

The provider id is "<chat_id>:<message_id>": Telegram message ids are only unique per chat,
and `recall` needs both to call deleteMessage. The bot token sits in the URL path, so no URL
ever goes into an error (http_request already never includes it).
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request

PARSE_MODES = ("Markdown", "MarkdownV2", "HTML")
MAX_TEXT_LENGTH = 4096
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
        content = message.content
        payload: dict[str, Any] = {"chat_id": message.receiver, "text": content["text"]}
        parse_mode = content.get("parse_mode") or self.config.get("parse_mode")
        if parse_mode:
            payload["parse_mode"] = parse_mode
        if self.config.get("disable_web_page_preview"):
            payload["disable_web_page_preview"] = True
        if self.config.get("disable_notification"):
            payload["disable_notification"] = True
        result = self._call("sendMessage", payload)
        chat_id = (result.get("chat") or {}).get("id", message.receiver)
        return f"{chat_id}:{result['message_id']}"

    def _call(self, method: str, payload: dict[str, Any]) -> Any:
        url = f"{self.base_url}/bot{self.config['bot_token']}/{method}"
        response = http_request("POST", url, json=payload, check_status=False)
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
