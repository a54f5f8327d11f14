"""Amazon SES receipts: SES event publishing to an SNS topic, whose HTTPS subscription posts
to django-anymail's SES tracking webhook. Anymail does not check the SNS message signature;
SesTrackingWebhookView does (certificate from SNS's own hosts only, TIDINGS_SNS_CERT_URL_REGEX;
topics limited by TIDINGS_SES_SNS_TOPIC_ARNS when set)."""

from __future__ import annotations

import base64
import hashlib
import re

from anymail.exceptions import AnymailAPIError, AnymailWebhookValidationFailure
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from channels_app.providers.base import DeliveryError
from channels_app.providers.http import http_request
from channels_app.providers.receipts import AnymailWebhook

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


ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="amazon_ses",
    label="Amazon SES",
    view=SesTrackingWebhookView,
    key_setting="TIDINGS_SNS_CERT_URL_REGEX",
    where="Amazon SNS HTTPS subscription of the SES event topic",
)
