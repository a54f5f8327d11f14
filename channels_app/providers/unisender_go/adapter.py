"""Unisender Go (POST email/send.json, Web API v1) through anymail's Unisender Go backend.

base_url is the account's data center: go1 by default, https://go2.unisender.ru/ru/transactional/api/v1
for accounts registered on the second one. anymail gives each recipient its own
`metadata.anymail_id` (a UUID), which is the provider id and which Unisender Go's
`transactional_email_status` webhooks echo back (`delivered`, `hard_bounced`, `opened`, …).
Webhooks carry `auth` = MD5 of the body with `auth` replaced by the API key of the
user/project that registered the webhook: set TIDINGS_ANYMAIL_UNISENDER_GO_API_KEY to that
key, or every receipt is refused.
"""

from __future__ import annotations

from anymail.backends.unisender_go import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class UnisenderGoConfig(EspConfig):
    api_key = serializers.RegexField(
        r"^[A-Za-z0-9_-]{16,128}$", help_text="The user's or the project's API key."
    )


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class UnisenderGoAdapter(AnymailAdapter):
    provider = "unisender_go"
    label = "Unisender Go"
    default_base_url = "https://go1.unisender.ru/ru/transactional/api/v1"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = UnisenderGoConfig
    secret_fields = ("api_key",)
    credential_kwargs = {"api_key": "api_key"}
