"""Brevo, formerly Sendinblue (POST /v3/smtp/email) through anymail's Brevo backend.

The provider id is Brevo's "<…@smtp-relay…>" messageId, which its transactional webhooks
report as `message-id`; receipts arrive at /r/anymail/brevo/tracking/ (basic auth in the
URL; Brevo does not sign its webhooks).
"""

from __future__ import annotations

from anymail.backends.brevo import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class BrevoConfig(EspConfig):
    api_key = serializers.RegexField(
        r"^xkeysib-[A-Za-z0-9-]{16,200}$",
        error_messages={"invalid": "a Brevo API v3 key looks like xkeysib-…"},
    )


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class BrevoAdapter(AnymailAdapter):
    provider = "brevo"
    label = "Brevo"
    default_base_url = "https://api.brevo.com/v3"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = BrevoConfig
    secret_fields = ("api_key",)
    credential_kwargs = {"api_key": "api_key"}
