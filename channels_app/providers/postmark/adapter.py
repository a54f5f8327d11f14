"""Postmark (POST /email) through anymail's Postmark backend.

The provider id is Postmark's MessageID, which its Delivery / Bounce / Open / Click
webhooks report; receipts arrive at /r/anymail/postmark/tracking/ (basic auth in the URL,
Postmark has no signature). `message_stream` picks a stream other than "outbound".
"""

from __future__ import annotations

from anymail.backends.postmark import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class PostmarkConfig(EspConfig):
    server_token = serializers.RegexField(
        r"^[A-Za-z0-9-]{8,100}$", help_text="The server's API token (Servers → API Tokens)."
    )
    message_stream = serializers.CharField(required=False, allow_blank=True, default="")


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class PostmarkAdapter(AnymailAdapter):
    provider = "postmark"
    label = "Postmark"
    default_base_url = "https://api.postmarkapp.com"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = PostmarkConfig
    secret_fields = ("server_token",)
    credential_kwargs = {"server_token": "server_token", "message_stream": "message_stream"}
