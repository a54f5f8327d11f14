"""Mandrill, Mailchimp Transactional (POST /api/1.0/messages/send.json) through anymail.

The provider id is Mandrill's `_id`, which its webhooks report. Mandrill has no delivery
event: `send` means it left Mandrill, so the trace goes from SENT to READ on an `open`,
CLICKED on a `click`, UNDELIVERED on a `hard_bounce` / `soft_bounce` / `reject`. Webhooks
are signed (X-Mandrill-Signature, HMAC-SHA1 over the URL and the form fields with the
webhook's key): set TIDINGS_ANYMAIL_MANDRILL_WEBHOOK_KEY, or every receipt is refused.
Mandrill answers every error with HTTP 500 and a `name`; the permanent ones are mapped here.
"""

from __future__ import annotations

import json

from anymail.backends.mandrill import EmailBackend
from anymail.exceptions import AnymailRequestsAPIError
from rest_framework import serializers

from channels_app.providers.anymail_common import (
    AnymailAdapter,
    EspConfig,
    PinnedSessionMixin,
    classify_error,
)
from channels_app.providers.base import DeliveryError

# Mandrill error names that no retry fixes (https://mailchimp.com/developer/transactional/api/).
PERMANENT_ERRORS = {"Invalid_Key", "ValidationError", "PaymentRequired", "Unknown_Subaccount"}


class MandrillConfig(EspConfig):
    api_key = serializers.RegexField(r"^[A-Za-z0-9_-]{20,64}$")


class PinnedBackend(PinnedSessionMixin, EmailBackend):
    """anymail's backend on a session under the egress policy."""


class MandrillAdapter(AnymailAdapter):
    provider = "mandrill"
    label = "Mandrill"
    default_base_url = "https://mandrillapp.com/api/1.0"
    backend_path = f"{__name__}.PinnedBackend"
    config_serializer = MandrillConfig
    secret_fields = ("api_key",)
    credential_kwargs = {"api_key": "api_key"}

    def classify(self, exc: BaseException) -> DeliveryError:
        if isinstance(exc, AnymailRequestsAPIError) and exc.status_code == 500:
            try:
                name = json.loads(exc.response.text).get("name", "")
            except (AttributeError, ValueError):
                name = ""
            if name in PERMANENT_ERRORS:
                return DeliveryError(f"rejected by Mandrill: {name}", permanent=True, code=name)
        return classify_error(exc)
