"""The email receipt endpoints (/r/anymail/<esp>/tracking/): django-anymail's tracking views,
behind one guard that answers every refusal as JSON and changes nothing.

Every request must carry the basic-auth secret (TIDINGS_ANYMAIL_WEBHOOK_SECRET, required in
every settings module) *before* anymail parses anything: 401 otherwise. Then each ESP's own
proof is checked where it has one: Mailgun's HMAC signature (signing key required), SendGrid's
ECDSA signature (when its verification key is set), Amazon SES's SNS message signature
(verified here: anymail does not). A failed check is a 403; an ESP whose key is missing is a
403 `webhook_not_configured` naming the setting; a malformed body is a 400. Only a request
that passed every check reaches anymail's `tracking` signal (tracking.receipts.anymail).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailWebhookValidationFailure,
)
from anymail.utils import get_request_basic_auth
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from channels_app.providers.base import DeliveryError
from channels_app.providers.http import http_request

logger = logging.getLogger(__name__)

SNS_CERT_CACHE_SECONDS = 24 * 3600
# The fields of each SNS message type that its signature covers, in this order.
SNS_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),  # fmt: skip
}
SNS_SIGNED_FIELDS["UnsubscribeConfirmation"] = SNS_SIGNED_FIELDS["SubscriptionConfirmation"]
SNS_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


class SnsSignatureInvalid(Exception):
    pass


def sns_string_to_sign(message: dict) -> bytes:
    fields = SNS_SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise SnsSignatureInvalid("unknown SNS message Type")
    parts = []
    for name in fields:
        if name in message and message[name] is not None:
            parts.append(f"{name}\n{message[name]}\n")
        elif name != "Subject":
            raise SnsSignatureInvalid(f"SNS message without {name}")
    return "".join(parts).encode()


def _sns_certificate(url: str) -> x509.Certificate:
    """The signing certificate, fetched once per URL (only from SNS's own hosts, through the
    guarded outbound HTTP path) and cached."""
    if not re.fullmatch(settings.TIDINGS_SNS_CERT_URL_REGEX, url):
        raise SnsSignatureInvalid("SigningCertURL is not an Amazon SNS certificate URL")
    key = "tidings:sns-cert:" + hashlib.sha256(url.encode()).hexdigest()
    pem = cache.get(key)
    if pem is None:
        try:
            response = http_request("GET", url, timeout=5.0)
        except DeliveryError as error:
            raise SnsSignatureInvalid(f"cannot fetch the signing certificate: {error}") from None
        pem = response.content
        cache.set(key, pem, SNS_CERT_CACHE_SECONDS)
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        cache.delete(key)
        raise SnsSignatureInvalid("the signing certificate is not a PEM certificate") from None


def sns_signature_verify(message: dict) -> None:
    """Amazon's SNS message signature (SignatureVersion 1: SHA1, 2: SHA256, RSA PKCS#1 v1.5)
    over the message's canonical string; raises SnsSignatureInvalid."""
    algorithm = SNS_HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise SnsSignatureInvalid("SignatureVersion must be 1 or 2")
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except ValueError:
        raise SnsSignatureInvalid("Signature is not base64") from None
    topics = settings.TIDINGS_SES_SNS_TOPIC_ARNS
    if topics and message.get("TopicArn") not in topics:
        raise SnsSignatureInvalid("TopicArn is not one of TIDINGS_SES_SNS_TOPIC_ARNS")
    certificate = _sns_certificate(str(message.get("SigningCertURL") or ""))
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsSignatureInvalid("the signing certificate has no RSA key")
    try:
        public_key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SnsSignatureInvalid("the SNS signature does not match") from None


class SesTrackingWebhookView(AmazonSESTrackingWebhookView):
    """Anymail's SES view plus the SNS signature check it leaves for the future."""

    def validate_request(self, request: HttpRequest) -> None:
        message = self._parse_sns_message(request)
        if not isinstance(message, dict):
            raise AnymailAPIError("the SNS body must be a JSON object")
        try:
            sns_signature_verify(message)
        except SnsSignatureInvalid as error:
            raise AnymailWebhookValidationFailure(f"Amazon SNS: {error}") from None


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
    view_class: type[View], esp: str, key_setting: str = ""
) -> Callable[..., HttpResponseBase]:
    inner = view_class.as_view()

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST":
            return inner(request, *args, **kwargs)  # HEAD checks at setup, 405 otherwise
        if not _basic_auth_ok(request):
            return _refused(
                401, "not_authenticated", "the receipt URL's basic-auth user:password is required"
            )
        try:
            return inner(request, *args, **kwargs)
        except AnymailWebhookValidationFailure as error:
            logger.warning("%s receipt refused: %s", esp, error)
            return _refused(403, "invalid_signature", f"{esp}: the request is not authentic")
        except (AnymailConfigurationError, ImproperlyConfigured):
            logger.warning("%s receipt refused: %s is not configured", esp, key_setting)
            return _refused(
                403, "webhook_not_configured", f"{esp} receipts need {key_setting} to be set"
            )
        except (AnymailAPIError, ValueError, KeyError, TypeError) as error:
            logger.warning("%s receipt rejected: %s", esp, type(error).__name__)
            return _refused(400, "invalid_receipt", f"{esp}: the body is not a valid receipt")

    return view


sendgrid_tracking = guarded(SendGridTrackingWebhookView, "SendGrid")
mailgun_tracking = guarded(
    MailgunTrackingWebhookView, "Mailgun", "TIDINGS_MAILGUN_WEBHOOK_SIGNING_KEY"
)
ses_tracking = guarded(SesTrackingWebhookView, "Amazon SES", "TIDINGS_SNS_CERT_URL_REGEX")
