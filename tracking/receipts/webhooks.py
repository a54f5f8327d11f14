"""The email receipt endpoints (/r/anymail/<esp>/tracking/), one per provider whose folder's
receipts.py declares an ANYMAIL_WEBHOOK: django-anymail's tracking views,
behind one guard that answers every refusal as JSON and changes nothing.

Every request must carry the basic-auth secret (TIDINGS_ANYMAIL_WEBHOOK_SECRET, required in
every settings module) *before* anymail parses anything: 401 otherwise. Then each ESP's own
proof is checked where it has one, by the view its provider folder declares
(`receipts.ANYMAIL_WEBHOOK`): Mailgun's HMAC signature (signing key required), SendGrid's
ECDSA signature (when its verification key is set), Amazon SES's SNS message signature
(verified by that provider's receipts.py: anymail does not). A failed check is a 403; an
ESP whose key is missing is a 403 `webhook_not_configured` naming the setting; a malformed
body is a 400. Only a request that passed every check reaches anymail's `tracking` signal
(tracking.receipts.anymail).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailWebhookValidationFailure,
)
from anymail.utils import get_request_basic_auth
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import URLPattern, path
from django.utils.crypto import constant_time_compare
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from channels_app.providers.receipts import AnymailWebhook
from channels_app.providers.registry import PROVIDERS, provider_module

logger = logging.getLogger(__name__)


def _refused(status: int, error: str, message: str) -> JsonResponse:
    response = JsonResponse({"error": error, "message": message}, status=status)
    if status == 401:
        # Amazon SNS only sends the basic-auth credentials after a challenge.
        response["WWW-Authenticate"] = 'Basic realm="Tidings receipts"'
    return response


def _basic_auth_ok(request: HttpRequest) -> bool:
    secret = settings.ANYMAIL.get("WEBHOOK_SECRET")
    allowed = [secret] if isinstance(secret, str) else list(secret or [])
    given = get_request_basic_auth(request)
    return bool(given) and any(constant_time_compare(given, a) for a in allowed if a)


def guarded(
    view_class: type[View], esp: str, key_setting: str = "", anymail_key: str = ""
) -> Callable[..., HttpResponseBase]:
    """`anymail_key`: the ANYMAIL setting of an ESP that signs its webhooks; without it set,
    that ESP's receipts are refused (403 naming `key_setting`) rather than taken unsigned."""
    inner = view_class.as_view()

    def not_configured() -> JsonResponse:
        logger.warning("%s receipt refused: %s is not configured", esp, key_setting)
        return _refused(
            403, "webhook_not_configured", f"{esp} receipts need {key_setting} to be set"
        )

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST":
            try:  # HEAD / GET checks at setup, 405 otherwise
                return inner(request, *args, **kwargs)
            except (AnymailConfigurationError, ImproperlyConfigured):
                # Some ESPs' views (Postal, MailerSend, Unisender Go) need their key to exist.
                return not_configured()
        if not _basic_auth_ok(request):
            return _refused(
                401, "not_authenticated", "the receipt URL's basic-auth user:password is required"
            )
        if anymail_key and not settings.ANYMAIL.get(anymail_key):
            return not_configured()
        try:
            return inner(request, *args, **kwargs)
        except AnymailWebhookValidationFailure as error:
            logger.warning("%s receipt refused: %s", esp, error)
            return _refused(403, "invalid_signature", f"{esp}: the request is not authentic")
        except (AnymailConfigurationError, ImproperlyConfigured):
            return not_configured()
        except (AnymailAPIError, ValueError, KeyError, TypeError) as error:
            logger.warning("%s receipt rejected: %s", esp, type(error).__name__)
            return _refused(400, "invalid_receipt", f"{esp}: the body is not a valid receipt")

    return view


def anymail_webhooks() -> list[tuple[str, AnymailWebhook]]:
    """(provider, webhook) of every registered provider with an ANYMAIL_WEBHOOK."""
    found = [(kind, provider_module(kind, "receipts")) for kind in PROVIDERS]
    return [
        (kind, module.ANYMAIL_WEBHOOK)
        for kind, module in found
        if module is not None and hasattr(module, "ANYMAIL_WEBHOOK")
    ]


def anymail_urlpatterns() -> list[URLPattern]:
    return [
        path(
            f"r/anymail/{hook.esp}/tracking/",
            guarded(hook.view, hook.label, hook.key_setting, hook.anymail_key),
            name=f"anymail-{kind}",
        )
        for kind, hook in anymail_webhooks()
    ]
