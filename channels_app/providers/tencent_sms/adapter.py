"""Tencent Cloud SMS, API 3.0 `SendSms` (version 2021-01-11), signed with TC3-HMAC-SHA256.

One request carries up to 200 numbers that share the template, the signature and the
template parameters; Tencent answers one `SendStatusSet` entry per number.
Template content: {"template_id": "123456", "sign_name": "Acme", "params": ["code", "minutes"]}
where `params` names, in the approved template's order, the variables that fill {1}, {2}, ...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request, raise_for_status
from channels_app.providers.sms_params import template_params

API_VERSION = "2021-01-11"
SERVICE = "sms"
MAX_NUMBERS = 200
REGIONS = ("ap-guangzhou", "ap-beijing", "ap-nanjing", "ap-singapore")

# Codes that are about the request or the account, not a passing condition.
_PERMANENT_LIMITS = {
    "LimitExceeded.PhoneNumberCountLimit",  # more than 200 numbers: our bug, retrying won't help
    "LimitExceeded.AppCountryOrRegionInBlacklist",  # the app may not send to this country
}
# Per-number / per-app frequency limits and how long until a retry can succeed.
_LIMIT_RETRY_AFTER = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    "LimitExceeded.DeliveryFrequencyLimit": 60.0,
}
_DAILY_LIMIT_RETRY_AFTER = 3600.0


class TencentSmsConfig(serializers.Serializer):
    secret_id = serializers.RegexField(
        r"^AKID[0-9A-Za-z]+$", help_text="API key SecretId (AKID...)", max_length=128
    )
    secret_key = serializers.CharField(max_length=128, trim_whitespace=True)
    sms_sdk_app_id = serializers.RegexField(
        r"^\d{6,20}$", help_text="SMS application SdkAppId, e.g. 1400006666"
    )
    region = serializers.ChoiceField(choices=REGIONS, default="ap-guangzhou")
    sign_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="Default signature; a template's content.sign_name overrides it.",
    )


def to_e164(receiver: str) -> str | None:
    """E.164 or None; bare mainland mobiles (1xxxxxxxxxx, 86..., 0086...) become +86..."""
    number = re.sub(r"[\s\-()]", "", receiver or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if re.fullmatch(r"1\d{10}", number):
        return "+86" + number
    if re.fullmatch(r"861\d{10}", number):
        return "+" + number
    if re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return number
    return None


def classify(code: str, message: str) -> DeliveryError:
    """A Tencent error code (whole request or one SendStatusSet entry) as a DeliveryError."""
    reason = f"Tencent SMS: {message}" if message else f"Tencent SMS error {code}"
    if code == "RequestLimitExceeded" or code.startswith("RequestLimitExceeded."):
        return DeliveryError(reason, rate_limited=True, retry_after=1.0, code=code)
    if code.startswith("LimitExceeded") and code not in _PERMANENT_LIMITS:
        retry_after = _LIMIT_RETRY_AFTER.get(code, _DAILY_LIMIT_RETRY_AFTER)
        return DeliveryError(reason, rate_limited=True, retry_after=retry_after, code=code)
    if (
        code.startswith(("InternalError", "ResourceUnavailable", "ServiceUnavailable"))
        or code == "FailedOperation.OtherError"
    ):
        return DeliveryError(reason, code=code)
    if code == "FailedOperation.MarketingSendTimeConstraint":
        # Marketing SMS only goes out 08:00-22:00: later it will.
        return DeliveryError(reason, retry_after=3600.0, code=code)
    # AuthFailure.*, InvalidParameter*, FailedOperation.*Template*/Signature*/Blacklist,
    # UnauthorizedOperation.*, MissingParameter, UnsupportedOperation.*: fixing needs a human.
    return DeliveryError(reason, permanent=True, code=code)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    action: str,
    timestamp: int,
    body: bytes,
    content_type: str,
    service: str = SERVICE,
) -> str:
    """The TC3-HMAC-SHA256 Authorization header for a POST / with a JSON body."""
    signed_headers = "content-type;host;x-tc-action"
    canonical_headers = (
        f"content-type:{content_type.lower()}\nhost:{host.lower()}\nx-tc-action:{action.lower()}\n"
    )
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            canonical_headers,
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    secret_date = _hmac(("TC3" + secret_key).encode(), date)
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


class TencentSmsAdapter(ProviderAdapter):
    provider = "tencent_sms"
    label = "Tencent Cloud SMS"
    channels = (Channel.SMS,)
    max_batch_size = MAX_NUMBERS
    default_base_url = "https://sms.tencentcloudapi.com"
    config_serializer = TencentSmsConfig
    secret_fields = ("secret_key",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors: dict[str, str] = {}
        template_id = content.get("template_id")
        if template_id is None or not re.fullmatch(r"\d+", str(template_id).strip()):
            errors["content.template_id"] = "the approved Tencent SMS template id (digits)"
        params = content.get("params", [])
        if not isinstance(params, list) or not all(
            isinstance(name, str) and name.strip() for name in params
        ):
            errors["content.params"] = (
                "a list of variable names, in the order of the template's {1}, {2}, ..."
            )
        sign_name = content.get("sign_name", "")
        if not isinstance(sign_name, str):
            errors["content.sign_name"] = "the approved SMS signature, as text"
        if errors:
            raise serializers.ValidationError(errors)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        # Messages that share template, signature and parameters go in one request; mainland
        # and international numbers may not be mixed (ContainDomesticAndInternationalPhoneNumber).
        groups: dict[tuple, list[tuple[int, str]]] = {}
        for index, message in enumerate(messages):
            try:
                phone, key = self._prepare(message)
            except DeliveryError as error:
                results[index] = SendResult(error=error)
                continue
            groups.setdefault(key, []).append((index, phone))
        aborted: DeliveryError | None = None
        for key, members in groups.items():
            for chunk in _chunks(members):
                if aborted is not None:
                    for index, _ in chunk:
                        results[index] = SendResult(error=aborted)
                    continue
                try:
                    chunk_results = self._send_chunk(key, [phone for _, phone in chunk])
                except DeliveryError as error:
                    chunk_results = [SendResult(error=error)] * len(chunk)
                    # The service is down or throttling the account: don't hammer it.
                    if not error.permanent:
                        aborted = error
                for (index, _), result in zip(chunk, chunk_results, strict=True):
                    results[index] = result
        return [result for result in results if result is not None]

    def _prepare(self, message: OutboundMessage) -> tuple[str, tuple]:
        phone = to_e164(message.receiver)
        if phone is None:
            raise DeliveryError(
                "not a phone number Tencent SMS accepts (E.164 or a mainland mobile)",
                permanent=True,
                code="invalid_receiver",
            )
        content = message.content
        # TemplateParamSet is positional: {1}, {2}, … in the order `params` names them.
        params = [str(value) for _, value in template_params(message) or []]
        sign_name = content.get("sign_name") or self.config.get("sign_name", "")
        key = (
            str(content.get("template_id", "")).strip(),
            sign_name,
            tuple(params),
            phone.startswith("+86"),
        )
        return phone, key

    def _send_chunk(self, key: tuple, phones: list[str]) -> list[SendResult]:
        template_id, sign_name, params, _ = key
        payload: dict[str, Any] = {
            "PhoneNumberSet": phones,
            "SmsSdkAppId": self.config["sms_sdk_app_id"],
            "TemplateId": template_id,
            "TemplateParamSet": list(params),
        }
        if sign_name:
            payload["SignName"] = sign_name
        body = self._call("SendSms", payload)
        statuses = body.get("SendStatusSet") or []
        return _match_statuses(phones, statuses)

    def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        host = urlsplit(self.base_url).netloc
        timestamp = int(time.time())
        content_type = "application/json; charset=utf-8"
        headers = {
            "Authorization": tc3_authorization(
                secret_id=self.config["secret_id"],
                secret_key=self.config["secret_key"],
                host=host,
                action=action,
                timestamp=timestamp,
                body=body,
                content_type=content_type,
            ),
            "Content-Type": content_type,
            # Signed as-is, so send exactly what was signed.
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": API_VERSION,
            "X-TC-Region": self.config.get("region") or "ap-guangzhou",
        }
        response = http_request(
            "POST", self.base_url + "/", data=body, headers=headers, check_status=False
        )
        try:
            answer = response.json()["Response"]
        except (ValueError, KeyError, TypeError):
            raise_for_status(response)
            raise DeliveryError(
                f"unexpected Tencent SMS answer (HTTP {response.status_code})", code="bad_response"
            ) from None
        error = answer.get("Error")
        if error:
            delivery_error = classify(str(error.get("Code", "")), str(error.get("Message", "")))
            if response.status_code >= 500 and delivery_error.permanent:
                # Whatever the code says, a server failure is worth another try.
                delivery_error = DeliveryError(delivery_error.reason, code=delivery_error.code)
            raise delivery_error
        if response.status_code >= 400:
            raise_for_status(response)
        return answer


def _chunks(members: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """At most 200 numbers per request and no number twice, so each status maps to one message."""
    chunks: list[list[tuple[int, str]]] = []
    seen: list[set[str]] = []
    for member in members:
        for chunk, phones in zip(chunks, seen, strict=True):
            if len(chunk) < MAX_NUMBERS and member[1] not in phones:
                chunk.append(member)
                phones.add(member[1])
                break
        else:
            chunks.append([member])
            seen.append({member[1]})
    return chunks


def _match_statuses(phones: list[str], statuses: list[dict[str, Any]]) -> list[SendResult]:
    by_phone = {str(status.get("PhoneNumber", "")): status for status in statuses}
    results: list[SendResult] = []
    for position, phone in enumerate(phones):
        status = by_phone.get(phone)
        if status is None and len(statuses) == len(phones):
            status = statuses[position]  # Tencent keeps the request's order
        if status is None:
            results.append(
                SendResult(
                    error=DeliveryError(
                        "Tencent SMS returned no status for this number", code="no_status"
                    )
                )
            )
        elif status.get("Code") == "Ok":
            results.append(SendResult(provider_message_id=str(status.get("SerialNo", ""))))
        else:
            results.append(
                SendResult(
                    error=classify(str(status.get("Code", "")), str(status.get("Message", "")))
                )
            )
    return results
