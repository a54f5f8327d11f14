"""SparkPost (POST /api/v1/transmissions/) through anymail's SparkPost backend.

The provider id is the transmission id, which SparkPost's event webhooks report as
`transmission_id` (`delivery`, `bounce`, `open`, …); receipts arrive at
/r/anymail/sparkpost/tracking/ (basic auth in the URL; SparkPost does not sign). EU
accounts set base_url https://api.eu.sparkpost.com/api/v1.
"""

from __future__ import annotations

from anymail.backends.sparkpost import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class SparkPostConfig(EspConfig):
    api_key = serializers.RegexField(r"^[A-Za-z0-9]{20,64}$")
    subaccount = serializers.IntegerField(required=False, min_value=1)


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class SparkPostAdapter(AnymailAdapter):
    provider = "sparkpost"
    label = "SparkPost"
    default_base_url = "https://api.sparkpost.com/api/v1"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = SparkPostConfig
    secret_fields = ("api_key",)
    credential_kwargs = {"api_key": "api_key", "subaccount": "subaccount"}
