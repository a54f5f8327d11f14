"""Mailgun (POST /v3/<domain>/messages) through anymail's Mailgun backend.

The provider id is Mailgun's "<...@domain>" message id, the one its webhooks report. The
account's base_url replaces the API root (https://api.eu.mailgun.net/v3 for EU domains).
"""

from __future__ import annotations

from typing import Any

from anymail.backends.mailgun import EmailBackend
from django.conf import settings
from rest_framework import serializers

from channels_app.providers.anymail_common import AnymailAdapter, EspConfig, PinnedSessionMixin


class MailgunConfig(EspConfig):
    api_key = serializers.CharField(min_length=8, max_length=200)
    sender_domain = serializers.RegexField(
        r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$",
        required=False,
        allow_blank=True,
        default="",
        help_text="The Mailgun sending domain; defaults to the domain of from_email.",
    )


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class MailgunAdapter(AnymailAdapter):
    provider = "mailgun"
    label = "Mailgun"
    default_base_url = "https://api.mailgun.net/v3"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = MailgunConfig
    secret_fields = ("api_key",)

    def connection_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "api_key": self.config["api_key"],
            "api_url": self.base_url + "/",
            "timeout": settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS,
        }
        if self.config.get("sender_domain"):
            kwargs["sender_domain"] = self.config["sender_domain"]
        return kwargs
