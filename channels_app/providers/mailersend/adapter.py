"""MailerSend (POST /v1/email) through anymail's MailerSend backend.

The provider id is the X-Message-Id MailerSend answers with, which its webhooks report as
`data.email.message.id` (`activity.delivered`, `activity.hard_bounced`, …). Webhooks are
signed (Signature: HMAC-SHA256 of the body, hex): set
TIDINGS_ANYMAIL_MAILERSEND_SIGNING_SECRET, or every receipt is refused.
"""

from __future__ import annotations

from anymail.backends.mailersend import EmailBackend
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
)


class MailerSendConfig(EspConfig):
    api_token = serializers.RegexField(r"^mlsn\.[A-Za-z0-9]{16,100}$")


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class MailerSendAdapter(AnymailAdapter):
    provider = "mailersend"
    label = "MailerSend"
    default_base_url = "https://api.mailersend.com/v1"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = MailerSendConfig
    secret_fields = ("api_token",)
    supports_metadata = False
    credential_kwargs = {"api_token": "api_token"}
