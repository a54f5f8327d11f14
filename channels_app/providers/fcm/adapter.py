"""Firebase Cloud Messaging HTTP v1: POST {base}/v1/projects/{project_id}/messages:send.

Auth is a service account: an RS256 JWT signed with its private key is exchanged at
token_uri for an OAuth2 access token (about an hour), shared by all workers through
tokens.cached_token. FCM v1 has no batch endpoint (the old /batch was shut down in 2024),
so the adapter implements `send_one` and the runner keeps many calls in flight.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.egress import validate_egress_url
from channels_app.providers.fcm.receipts import token_dead
from channels_app.providers.http import http_request

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)

# FcmError.errorCode -> how to treat it (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
_PERMANENT = {"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH", "THIRD_PARTY_AUTH_ERROR"}
_TRANSIENT = {"UNAVAILABLE", "INTERNAL", "UNSPECIFIED_ERROR"}


class FcmConfig(serializers.Serializer):
    """The fields of the service account JSON downloaded from the Firebase console."""

    project_id = serializers.RegexField(r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$")
    client_email = serializers.EmailField()
    private_key = serializers.CharField(trim_whitespace=False)
    private_key_id = serializers.CharField(required=False, allow_blank=True, default="")
    token_uri = serializers.URLField(default=DEFAULT_TOKEN_URI, validators=[validate_egress_url])

    def validate_private_key(self, value: str) -> str:
        # The JSON file has "\n" escapes; someone pasting it by hand may keep them literally.
        value = value.replace("\\n", "\n")
        try:
            key = load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError):
            raise serializers.ValidationError("not a PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise serializers.ValidationError("a service account key is an RSA key")
        return value


class FcmAdapter(ProviderAdapter):
    provider = "fcm"
    label = "Firebase Cloud Messaging (HTTP v1)"
    channels = (Channel.PUSH,)
    default_base_url = "https://fcm.googleapis.com"
    config_serializer = FcmConfig
    secret_fields = ("private_key",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors = {}
        for name in ("title", "body"):
            if not isinstance(content.get(name), str) or not content[name].strip():
                errors[f"content.{name}"] = f"a push notification needs a {name}"
        data = content.get("data")
        if data is not None and not isinstance(data, dict):
            errors["content.data"] = "an object of string values"
        if errors:
            raise serializers.ValidationError(errors)

    def send_one(self, message: OutboundMessage) -> SendResult:
        url = f"{self.base_url}/v1/projects/{self.config['project_id']}/messages:send"
        return self._send_one(url, message)

    def stops_batch(self, error: DeliveryError) -> bool:
        # Quota, credentials and an unreachable FCM hit every following message too.
        return error.rate_limited or error.code in _ACCOUNT_WIDE

    def _send_one(self, url: str, message: OutboundMessage) -> SendResult:
        payload = {"message": _message(message)}
        for attempt in (1, 2):
            token = self._access_token()
            response = http_request(
                "POST",
                url,
                json=payload,
                headers={"Authorization": f"Bearer {token}"},
                check_status=False,
            )
            if response.status_code == 200:
                return SendResult(provider_message_id=str(_json(response).get("name", "")))
            error = _classify(response)
            if error.code == "UNAUTHENTICATED" and attempt == 1:
                # The access token expired or was revoked early: fetch a new one, once.
                self.provider_token_rejected(self._token_name(), token)
                continue
            if token_dead(response.status_code, _json(response)):
                # FCM's answer is the receipt: the app is gone (SENT, then UNDELIVERED).
                return SendResult(undelivered=str(error), dead_token=True)
            return SendResult(error=error)
        raise AssertionError("unreachable")

    def _token_name(self) -> str:
        # Keyed by account and token endpoint, so a test or staging token_uri never mixes.
        ident = f"{self.config['client_email']}|{self.config.get('token_uri')}"
        return "fcm:" + hashlib.sha256(ident.encode()).hexdigest()[:24]

    def _access_token(self) -> str:
        return self.provider_token(self._token_name(), self._fetch_token)

    def _fetch_token(self) -> tuple[str, int]:
        token_uri = self.config.get("token_uri") or DEFAULT_TOKEN_URI
        now = int(time.time())
        claims = {
            "iss": self.config["client_email"],
            "scope": SCOPE,
            "aud": token_uri,
            "iat": now,
            "exp": now + 3600,
        }
        headers = (
            {"kid": self.config["private_key_id"]} if self.config.get("private_key_id") else {}
        )
        assertion = jwt.encode(claims, self.config["private_key"], "RS256", headers=headers)
        response = http_request(
            "POST",
            token_uri,
            data={"grant_type": GRANT_TYPE, "assertion": assertion},
            check_status=False,
        )
        body = _json(response)
        if response.status_code == 200 and body.get("access_token"):
            return body["access_token"], int(body.get("expires_in") or 3600)
        error = str(body.get("error") or response.status_code)
        description = str(body.get("error_description") or "")[:200]
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryError(
                f"Google OAuth token endpoint HTTP {response.status_code}",
                rate_limited=response.status_code == 429,
                code="token_endpoint",
            )
        # invalid_grant (bad signature, deleted key, clock skew) or invalid_client.
        raise DeliveryError(
            f"service account rejected by Google OAuth: {error} {description}".strip(),
            permanent=True,
            code="oauth_" + error,
        )


# Codes after which every remaining message of the batch would fail the same way.
_ACCOUNT_WIDE = {
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "SENDER_ID_MISMATCH",
    "THIRD_PARTY_AUTH_ERROR",
    "timeout",
    "connection",
    "token_endpoint",
    "oauth_invalid_grant",
    "oauth_invalid_client",
}


def _message(message: OutboundMessage) -> dict[str, Any]:
    content = message.content
    notification = {"title": content["title"], "body": content["body"]}
    if content.get("image"):
        notification["image"] = content["image"]
    body: dict[str, Any] = {"token": message.receiver, "notification": notification}
    # FCM data values must be strings; our message id lets the app deduplicate.
    data = {
        str(k): v if isinstance(v, str) else str(v) for k, v in (content.get("data") or {}).items()
    }
    data.setdefault("tidings_message_id", message.message_id)
    body["data"] = data
    return body


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _classify(response: Any) -> DeliveryError:
    status = response.status_code
    error = _json(response).get("error") or {}
    fcm_code = ""
    for detail in error.get("details") or []:
        if str(detail.get("@type", "")).endswith("google.firebase.fcm.v1.FcmError"):
            fcm_code = str(detail.get("errorCode") or "")
    message = str(error.get("message") or "")[:200]
    code = fcm_code or str(error.get("status") or status)
    reason = f"FCM {code}: {message}" if message else f"FCM {code} (HTTP {status})"
    if code == "QUOTA_EXCEEDED" or status == 429:
        retry_after = response.headers.get("Retry-After")
        return DeliveryError(
            reason,
            rate_limited=True,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            code=code,
        )
    if status == 401 and code != "THIRD_PARTY_AUTH_ERROR":
        # An OAuth problem (status UNAUTHENTICATED), not an APNs/web-push credential one.
        return DeliveryError(reason, permanent=True, code="UNAUTHENTICATED")
    if code in _TRANSIENT or status >= 500:
        return DeliveryError(reason, code=code)
    if code in _PERMANENT or 400 <= status < 500:
        return DeliveryError(reason, permanent=True, code=code)
    return DeliveryError(reason, code=code)
