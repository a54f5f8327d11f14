"""Slack incoming webhook: POST {"text", "blocks"?} to the webhook URL, one call per message.

The webhook is bound to one channel when it is created, so the receiver is only a label.
The URL's path is the credential (/services/T…/B…/secret): it never goes into an error.
An account base_url (a local fake or a proxy) replaces the scheme and host of webhook_url.
Images: incoming webhooks cannot upload files, so `"media": {"url": "https://…"}` (with an
optional `alt_text`) becomes an image block that Slack fetches from that public URL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.egress import validate_egress_url
from channels_app.providers.http import http_request

_PATH_RE = re.compile(r"^/services/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9_-]+$")
# Body fields of an incoming-webhook payload we pass through from the template content.
_OPTIONAL_FIELDS = ("blocks", "attachments", "username", "icon_emoji", "icon_url", "thread_ts")


class SlackConfig(serializers.Serializer):
    webhook_url = serializers.URLField(
        required=False,
        allow_blank=True,
        default="",
        help_text="https://hooks.slack.com/services/…",
        validators=[validate_egress_url],
    )
    path = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="/services/T…/B…/… — instead of webhook_url, joined to the base URL",
    )
    unfurl_links = serializers.BooleanField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        url, path = attrs.get("webhook_url"), attrs.get("path")
        if bool(url) == bool(path):
            raise serializers.ValidationError(
                {"webhook_url": "give either webhook_url or path, not both or neither"}
            )
        if url:
            split = urlsplit(url)
            if split.scheme != "https" or not _PATH_RE.match(split.path):
                raise serializers.ValidationError(
                    {"webhook_url": "expected https://hooks.slack.com/services/T…/B…/…"}
                )
        if path and not _PATH_RE.match(path):
            raise serializers.ValidationError({"path": "expected /services/T…/B…/…"})
        return attrs


class SlackAdapter(ProviderAdapter):
    provider = "slack"
    label = "Slack incoming webhook"
    channels = (Channel.SLACK,)
    default_base_url = "https://hooks.slack.com"
    config_serializer = SlackConfig
    secret_fields = ("webhook_url", "path")

    def __init__(
        self, config: dict[str, Any], *, base_url: str = "", account_id: int | None = None
    ):
        super().__init__(config, base_url=base_url, account_id=account_id)
        path = config.get("path") or ""
        if config.get("webhook_url"):
            split = urlsplit(config["webhook_url"])
            # Without an account base_url the webhook URL is used as Slack gave it.
            path = split.path if base_url else ""
            self.url = f"{self.base_url}{path}" if base_url else config["webhook_url"]
        else:
            self.url = f"{self.base_url}{path}"

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        text, blocks = content.get("text"), content.get("blocks")
        errors = _image_errors(content) if "media" in content else {}
        if blocks is not None and (not isinstance(blocks, list) or not blocks):
            errors["content.blocks"] = "a non-empty list of Block Kit blocks"
        if not (isinstance(text, str) and text.strip()) and not blocks and "media" not in content:
            errors["content.text"] = "a Slack message needs a text or blocks"
        if errors:
            raise serializers.ValidationError(errors)

    def send_one(self, message: OutboundMessage) -> SendResult:
        self._post(message)
        # A webhook answers a bare "ok": our message id is the only handle there is.
        return SendResult(provider_message_id=message.message_id)

    def stops_batch(self, error: DeliveryError) -> bool:
        # A dead webhook fails every following message the same way.
        return super().stops_batch(error) or isinstance(error, _WebhookGone)

    def _post(self, message: OutboundMessage) -> None:
        content = message.content
        payload: dict[str, Any] = {}
        if content.get("text"):
            payload["text"] = content["text"]
        for name in _OPTIONAL_FIELDS:
            if content.get(name):
                payload[name] = content[name]
        if isinstance(content.get("media"), dict):
            image = {
                "type": "image",
                "image_url": content["media"]["url"],
                "alt_text": str(content.get("alt_text") or "image"),
            }
            payload["blocks"] = [*payload.get("blocks", []), image]
        if self.config.get("unfurl_links") is not None:
            payload["unfurl_links"] = self.config["unfurl_links"]
        response = http_request("POST", self.url, json=payload, check_status=False)
        if response.status_code == 200:
            return
        raise _error(response.status_code, response.text, response.headers.get("Retry-After"))


def _error(status: int, text: str, retry_after: str | None) -> DeliveryError:
    # Slack answers errors as a short plain-text code: invalid_payload, no_service, …
    code = text.strip()[:80] or str(status)
    if status == 429:
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        return DeliveryError(
            "Slack rate limit (about one message per second per webhook)",
            rate_limited=True,
            retry_after=seconds,
            code=code,
        )
    if status >= 500 or status == 408:
        return DeliveryError(f"Slack server error HTTP {status}: {code}", code=code)
    reason = f"Slack refused HTTP {status}: {code}"
    if status in (401, 403, 404, 410):
        # invalid_token, action_prohibited, no_service, no_team, channel_is_archived:
        # the webhook itself is unusable until someone fixes the account.
        return _WebhookGone(reason, permanent=True, code=code)
    # 400 invalid_payload, no_text, invalid_blocks…: this message must be fixed.
    return DeliveryError(reason, permanent=True, code=code)


class _WebhookGone(DeliveryError):
    """A permanent error of the webhook, not of one message."""


def _image_errors(content: dict[str, Any]) -> dict[str, str]:
    """Slack shows an image block from a public URL; there is no upload through a webhook."""
    item = content["media"]
    url = item.get("url") if isinstance(item, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://", "{$")):
        return {"content.media.url": "Slack webhooks show images by public http(s) URL only"}
    if len(url) > 3000:
        return {"content.media.url": "Slack allows image URLs up to 3000 characters"}
    return {}
