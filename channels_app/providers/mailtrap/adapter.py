"""Mailtrap Email Sending (POST /api/send) through anymail's Mailtrap backend.

The default base URL is the transactional stream; bulk mail goes to
https://bulk.api.mailtrap.io/api (same API and token). The provider id is Mailtrap's
message id for the recipient, which its webhooks report (`delivery`, `bounce`, `open`,
`click`, …). Webhooks are signed (Mailtrap-Signature: HMAC-SHA256 of the body, hex, with
the webhook's signing secret): set TIDINGS_ANYMAIL_MAILTRAP_TRACKING_SECRET, or every
receipt is refused.
"""

from __future__ import annotations

from anymail.backends.mailtrap import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class MailtrapConfig(EspConfig):
    api_token = serializers.RegexField(
        r"^[A-Za-z0-9]{16,100}$", help_text="An API token with Email Sending access."
    )


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class MailtrapAdapter(AnymailAdapter):
    provider = "mailtrap"
    label = "Mailtrap"
    default_base_url = "https://send.api.mailtrap.io/api"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = MailtrapConfig
    secret_fields = ("api_token",)
    credential_kwargs = {"api_token": "api_token"}
