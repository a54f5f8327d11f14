"""Twilio Programmable Messaging: POST /2010-04-01/Accounts/{AccountSid}/Messages.json.

Twilio has no batch send, so each message is one call (HTTP Basic AccountSid:AuthToken,
form-encoded To, From or MessagingServiceSid, Body); the Message resource's `sid` (SM...)
is the provider id. Template content: {"text": "Your code is {$code}"}.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request, raise_for_status

MAX_BODY = 1600
# Twilio's error codes that mean "slow down" rather than "this message is wrong".
_RATE_LIMIT_CODES = {20429, 14107, 21611}  # too many requests, SMS rate limit, queue full
_TRANSIENT_CODES = {20500, 20503, 30001}


class TwilioSmsConfig(serializers.Serializer):
    account_sid = serializers.RegexField(r"^AC[0-9a-fA-F]{32}$", help_text="Account SID (AC...)")
    auth_token = serializers.CharField(max_length=128)
    from_number = serializers.RegexField(
        r"^(\+[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11})$",
        required=False,
        allow_blank=True,
        default="",
        help_text="Sender: an E.164 Twilio number or an alphanumeric sender id.",
    )
    messaging_service_sid = serializers.RegexField(
        r"^MG[0-9a-fA-F]{32}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="Messaging Service SID (MG...); used instead of from_number when set.",
    )
    default_country_code = serializers.RegexField(
        r"^[1-9]\d{0,2}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="Country code for receivers given without one, e.g. 86 or 1.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("from_number") and not attrs.get("messaging_service_sid"):
            raise serializers.ValidationError(
                {"from_number": "set from_number or messaging_service_sid"}
            )
        return attrs


def to_e164(receiver: str, default_country_code: str = "") -> str | None:
    number = re.sub(r"[\s\-().]", "", receiver or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+") and default_country_code and number.isdigit():
        number = "+" + default_country_code + number.lstrip("0")
    return number if re.fullmatch(r"\+[1-9]\d{6,14}", number) else None


def classify(
    status: int, code: int | None, message: str, retry_after: float | None
) -> DeliveryError:
    label = str(code) if code is not None else str(status)
    reason = f"Twilio: {message}" if message else f"Twilio error HTTP {status}"
    if status == 429 or code in _RATE_LIMIT_CODES:
        return DeliveryError(reason, rate_limited=True, retry_after=retry_after, code=label)
    if status >= 500 or status == 408 or code in _TRANSIENT_CODES:
        return DeliveryError(reason, retry_after=retry_after, code=label)
    # 20003 bad credentials, 20404 wrong account, 21211/21614 bad To, 21606 bad From,
    # 21610 unsubscribed recipient, 21408 region not enabled, 21617 body too long, ...
    return DeliveryError(reason, permanent=True, code=label)


class TwilioSmsAdapter(ProviderAdapter):
    provider = "twilio_sms"
    label = "Twilio SMS"
    channels = (Channel.SMS,)
    default_base_url = "https://api.twilio.com"
    config_serializer = TwilioSmsConfig
    secret_fields = ("auth_token",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            raise serializers.ValidationError({"content.text": "an SMS needs a text body"})
        if len(text) > MAX_BODY:
            raise serializers.ValidationError(
                {"content.text": f"Twilio accepts at most {MAX_BODY} characters"}
            )

    def send_one(self, message: OutboundMessage) -> SendResult:
        return SendResult(provider_message_id=self._send_one(message))

    def stops_batch(self, error: DeliveryError) -> bool:
        # Down, unreachable or throttling the account: the rest would fail the same way.
        return not error.permanent

    def _send_one(self, message: OutboundMessage) -> str:
        to = to_e164(message.receiver, self.config.get("default_country_code", ""))
        if to is None:
            raise DeliveryError(
                "not an E.164 phone number", permanent=True, code="invalid_receiver"
            )
        body = str(message.content.get("text") or "")
        if not body.strip():
            raise DeliveryError("empty SMS text", permanent=True, code="empty_body")
        if len(body) > MAX_BODY:
            raise DeliveryError(
                f"SMS text longer than {MAX_BODY} characters", permanent=True, code="21617"
            )
        form = {"To": to, "Body": body}
        if self.config.get("messaging_service_sid"):
            form["MessagingServiceSid"] = self.config["messaging_service_sid"]
        else:
            form["From"] = self.config["from_number"]
        account_sid = self.config["account_sid"]
        response = http_request(
            "POST",
            f"{self.base_url}/2010-04-01/Accounts/{account_sid}/Messages.json",
            data=form,
            auth=(account_sid, self.config["auth_token"]),
            check_status=False,
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise_for_status(response)
            raise DeliveryError(
                f"unexpected Twilio answer (HTTP {response.status_code})", code="bad_response"
            )
        if response.status_code >= 400:
            code = answer.get("code")
            raise classify(
                response.status_code,
                code if isinstance(code, int) else None,
                str(answer.get("message") or ""),
                _retry_after(response.headers.get("Retry-After", "")),
            )
        sid = str(answer.get("sid") or "")
        if not sid:
            raise DeliveryError("Twilio answered without a message sid", code="bad_response")
        return sid


def _retry_after(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None
