"""Mailjet (Send API v3.1, POST /v3.1/send) through anymail's Mailjet backend.

The provider id is Mailjet's numeric MessageID, which its event webhooks (`sent` = accepted
by the receiving server, `bounce`, `open`, …) report; receipts arrive at
/r/anymail/mailjet/tracking/ (basic auth in the URL; Mailjet does not sign).
"""

from __future__ import annotations

from anymail.backends.mailjet import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class MailjetConfig(EspConfig):
    api_key = serializers.RegexField(r"^[A-Za-z0-9]{16,64}$")
    secret_key = serializers.RegexField(r"^[A-Za-z0-9]{16,64}$")


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class MailjetAdapter(AnymailAdapter):
    provider = "mailjet"
    label = "Mailjet"
    default_base_url = "https://api.mailjet.com/v3.1"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = MailjetConfig
    secret_fields = ("secret_key", "api_key")
    credential_kwargs = {"api_key": "api_key", "secret_key": "secret_key"}
