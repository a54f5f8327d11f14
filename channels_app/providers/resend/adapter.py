"""Resend (POST /emails) through anymail's Resend backend.

The provider id is Resend's email id, which its webhooks report as `data.email_id`
(`email.delivered`, `email.bounced`, `email.opened`, …). Webhooks are signed through Svix
(svix-id / svix-timestamp / svix-signature headers): set TIDINGS_ANYMAIL_RESEND_SIGNING_SECRET
to the endpoint's "whsec_…" secret, or every receipt is refused.
"""

from __future__ import annotations

from anymail.backends.resend import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class ResendConfig(EspConfig):
    api_key = serializers.RegexField(
        r"^re_[A-Za-z0-9_]{8,100}$", error_messages={"invalid": "a Resend key looks like re_…"}
    )


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class ResendAdapter(AnymailAdapter):
    provider = "resend"
    label = "Resend"
    default_base_url = "https://api.resend.com"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = ResendConfig
    secret_fields = ("api_key",)
    credential_kwargs = {"api_key": "api_key"}
