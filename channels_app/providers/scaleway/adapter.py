"""Scaleway Transactional Email (POST /transactional-email/v1alpha1/regions/<region>/emails)
through anymail's Scaleway backend. Send only.

base_url names the region (fr-par by default). The provider id is Scaleway's per-recipient
email `id`. anymail normalizes no Scaleway webhook, so there are no receipts: a Scaleway
message's trace ends at SENT. Headers carry our id (X-Tidings-Message-Id) and anymail's
X-Metadata / X-Tags.
"""

from __future__ import annotations

from anymail.backends.scaleway import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ScalewayConfig(EspConfig):
    secret_key = serializers.RegexField(_UUID, help_text="An IAM API key's secret key.")
    project_id = serializers.RegexField(_UUID, help_text="The Project the domain belongs to.")


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class ScalewayAdapter(AnymailAdapter):
    provider = "scaleway"
    label = "Scaleway Transactional Email"
    default_base_url = "https://api.scaleway.com/transactional-email/v1alpha1/regions/fr-par"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = ScalewayConfig
    secret_fields = ("secret_key",)
    credential_kwargs = {"secret_key": "secret_key", "project_id": "project_id"}
