"""SendGrid (Web API v3 /mail/send) through anymail's SendGrid backend.

The provider id is anymail's per-recipient `anymail_id` (sent in custom_args), which
SendGrid's event webhook echoes back; the account's base_url replaces the API root
(e.g. https://api.eu.sendgrid.com/v3 for EU subusers).
"""

from __future__ import annotations

from typing import Any

from anymail.backends.sendgrid import EmailBackend
from django.conf import settings
from rest_framework import serializers

from channels_app.providers.anymail_common import AnymailAdapter, EspConfig, PinnedSessionMixin


class SendGridConfig(EspConfig):
    api_key = serializers.RegexField(
        r"^SG\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        error_messages={"invalid": "a SendGrid API key looks like SG.xxxx.yyyy"},
    )


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class SendGridAdapter(AnymailAdapter):
    provider = "sendgrid"
    label = "SendGrid"
    default_base_url = "https://api.sendgrid.com/v3"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = SendGridConfig
    secret_fields = ("api_key",)

    def connection_kwargs(self) -> dict[str, Any]:
        return {
            "api_key": self.config["api_key"],
            "api_url": self.base_url + "/",
            "timeout": settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS,
        }
