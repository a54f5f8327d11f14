"""Postal, the self-hosted mail server (POST /api/v1/send/message) through anymail.

base_url is the Postal server's root (there is no default). The provider id is Postal's
numeric message id per recipient, which its webhooks report (`MessageDelivered`,
`MessageBounced`, `MessageDeliveryFailed`, …). Webhooks are signed with the server's RSA
key (X-Postal-Signature): set TIDINGS_ANYMAIL_POSTAL_WEBHOOK_KEY to its public key (the
base64 body of the PEM), or every receipt is refused.
"""

from __future__ import annotations

from anymail.backends.postal import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class PostalConfig(EspConfig):
    api_key = serializers.RegexField(r"^[A-Za-z0-9]{16,64}$")


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class PostalAdapter(AnymailAdapter):
    provider = "postal"
    label = "Postal"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = PostalConfig
    secret_fields = ("api_key",)
    supports_metadata = False
    credential_kwargs = {"api_key": "api_key"}
