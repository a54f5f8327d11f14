"""Apple Push Notification service, token-based auth: POST /3/device/{token} over HTTP/2.

The provider token is an ES256 JWT (kid=key_id, iss=team_id, iat) that Apple accepts for an
hour and does not want refreshed more than every 20 minutes (429
TooManyProviderTokenUpdates), so one JWT is shared by all workers through
tokens.cached_token and reused for about 48 minutes.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.apns.receipts import token_dead
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request

SANDBOX_BASE_URL = "https://api.sandbox.push.apple.com"
# cached_token keeps a token for expires_in minus a 2-minute margin: 50 min -> ~48 min of use.
_JWT_LIFETIME_SECONDS = 50 * 60
MAX_PAYLOAD_BYTES = 4096


class ApnsConfig(serializers.Serializer):
    team_id = serializers.RegexField(r"^[A-Z0-9]{10}$")
    key_id = serializers.RegexField(r"^[A-Z0-9]{10}$")
    private_key = serializers.CharField(
        trim_whitespace=False, help_text="Contents of the AuthKey_<key_id>.p8 file"
    )
    bundle_id = serializers.CharField(max_length=255, help_text="The apns-topic")
    environment = serializers.ChoiceField(
        choices=["production", "development"], default="production"
    )
    priority = serializers.ChoiceField(choices=[10, 5], default=10)

    def validate_private_key(self, value: str) -> str:
        value = value.replace("\\n", "\n")
        try:
            key = load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError):
            raise serializers.ValidationError("not a PEM private key (.p8)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise serializers.ValidationError("an APNs auth key is a P-256 EC key")
        return value


class ApnsAdapter(ProviderAdapter):
    provider = "apns"
    label = "Apple Push Notification service"
    channels = (Channel.PUSH,)
    default_base_url = "https://api.push.apple.com"
    config_serializer = ApnsConfig
    secret_fields = ("private_key",)

    def __init__(
        self, config: dict[str, Any], *, base_url: str = "", account_id: int | None = None
    ):
        if not base_url and config.get("environment") == "development":
            base_url = SANDBOX_BASE_URL
        super().__init__(config, base_url=base_url, account_id=account_id)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors = {}
        for name in ("title", "body"):
            if not isinstance(content.get(name), str) or not content[name].strip():
                errors[f"content.{name}"] = f"a push notification needs a {name}"
        badge = content.get("badge")
        if badge is not None and (not isinstance(badge, int) or badge < 0):
            errors["content.badge"] = "a non-negative integer"
        data = content.get("data")
        if data is not None and (not isinstance(data, dict) or "aps" in data):
            errors["content.data"] = "an object of custom keys, without 'aps'"
        if errors:
            raise serializers.ValidationError(errors)

    def send_one(self, message: OutboundMessage) -> SendResult:
        return self._send_one(message)

    def stops_batch(self, error: DeliveryError) -> bool:
        # Bad credentials, a wrong topic or an unreachable APNs fail the rest too.
        # (TooManyRequests is per device token, so it does not stop the batch.)
        return error.code in _ACCOUNT_WIDE

    def _send_one(self, message: OutboundMessage) -> SendResult:
        body = json.dumps(_payload(message.content), separators=(",", ":"), ensure_ascii=False)
        encoded = body.encode()
        if len(encoded) > MAX_PAYLOAD_BYTES:
            raise DeliveryError(
                f"payload is {len(encoded)} bytes, APNs allows {MAX_PAYLOAD_BYTES}",
                permanent=True,
                code="PayloadTooLarge",
            )
        # Our message id as apns-id: Apple echoes it, and it names the push in their logs.
        apns_id = _uuid(message.message_id)
        url = f"{self.base_url}/3/device/{message.receiver}"
        for attempt in (1, 2):
            token = self.provider_token(self._token_name(), self._make_jwt)
            headers = {
                "authorization": f"bearer {token}",
                "apns-topic": self.config["bundle_id"],
                "apns-push-type": "alert",
                "apns-priority": str(self.config.get("priority", 10)),
                "apns-id": apns_id,
                "content-type": "application/json",
            }
            response = _post(url, encoded, headers)
            if response.status_code == 200:
                return SendResult(provider_message_id=response.headers.get("apns-id", apns_id))
            error = _classify(response)
            if error.code == "ExpiredProviderToken" and attempt == 1:
                self.provider_token_rejected(self._token_name(), token)
                continue
            if token_dead(response.status_code, error.code):
                # Apple's answer is the receipt: the device is gone (SENT, then UNDELIVERED).
                return SendResult(undelivered=str(error), dead_token=True)
            return SendResult(error=error)
        raise AssertionError("unreachable")

    def _token_name(self) -> str:
        return f"apns:{self.config['team_id']}:{self.config['key_id']}"

    def _make_jwt(self) -> tuple[str, int]:
        token = jwt.encode(
            {"iss": self.config["team_id"], "iat": int(time.time())},
            self.config["private_key"],
            algorithm="ES256",
            headers={"kid": self.config["key_id"]},
        )
        return token, _JWT_LIFETIME_SECONDS


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:  # apns-id must be a canonical UUID; derive a stable one otherwise
        return str(uuid.uuid5(uuid.NAMESPACE_URL, value))


def _post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return http_request("POST", url, data=body, headers=headers, check_status=False, http2=True)


def _payload(content: dict[str, Any]) -> dict[str, Any]:
    alert = {"title": content["title"], "body": content["body"]}
    if content.get("subtitle"):
        alert["subtitle"] = content["subtitle"]
    aps: dict[str, Any] = {"alert": alert}
    if content.get("badge") is not None:
        aps["badge"] = content["badge"]
    if content.get("sound"):
        aps["sound"] = content["sound"]
    if content.get("thread_id"):
        aps["thread-id"] = content["thread_id"]
    if content.get("category"):
        aps["category"] = content["category"]
    return {**(content.get("data") or {}), "aps": aps}


# Reasons after which every following push of the batch would fail the same way.
_ACCOUNT_WIDE = {
    "ExpiredProviderToken",
    "InvalidProviderToken",
    "MissingProviderToken",
    "BadCertificate",
    "BadCertificateEnvironment",
    "Forbidden",
    "BadTopic",
    "MissingTopic",
    "TopicDisallowed",
    "TooManyProviderTokenUpdates",
    "connection",
    "egress_denied",
}


def _classify(response: requests.Response) -> DeliveryError:
    status = response.status_code
    try:
        reason = str(response.json().get("reason") or "")
    except (ValueError, AttributeError):
        reason = ""
    code = reason or str(status)
    text = f"APNs {status} {code}"
    if status == 429:
        retry_after = response.headers.get("retry-after", "")
        return DeliveryError(
            text,
            rate_limited=True,
            retry_after=float(retry_after) if retry_after.isdigit() else None,
            code=code,
        )
    if status >= 500:  # InternalServerError, ServiceUnavailable, Shutdown
        return DeliveryError(text, code=code)
    # 400 BadDeviceToken/DeviceTokenNotForTopic/payload, 403 credentials, 410 Unregistered.
    return DeliveryError(text, permanent=True, code=code)
