"""Alibaba Cloud SMS (dysmsapi 2017-05-25) `SendSms`, RPC style with the V1 HMAC-SHA1 signature.

Messages whose TemplateParam is identical share one call (PhoneNumbers comma-joined, up to
1000); every other message gets its own call. One call answers one BizId, which becomes the
provider id of every number in it (receipts are looked up by BizId + number).
Template content: {"template_code": "SMS_123456789", "sign_name": "Acme", "params": ["code"]};
without `params` every variable goes into TemplateParam.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request, raise_for_status
from channels_app.providers.sms_params import all_variables, template_params

API_VERSION = "2017-05-25"
MAX_NUMBERS = 1000

_TRANSIENT = {
    "isp.SYSTEM_ERROR",
    "isp.GATEWAY_ERROR",
    "ServiceUnavailable",
    "InternalError",
    "SignatureNonceUsed",  # the next attempt signs with a fresh nonce
}
# A multi-number call fails as a whole on these, though only one number is at fault:
# the numbers are then sent one by one so the others still go out.
_SPLIT_ON = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.BUSINESS_LIMIT_CONTROL"}


class AliyunSmsConfig(serializers.Serializer):
    access_key_id = serializers.RegexField(
        r"^[A-Za-z0-9.]{8,128}$", help_text="AccessKey ID (LTAI...)"
    )
    access_key_secret = serializers.CharField(max_length=128)
    sign_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="Default signature; a template's content.sign_name overrides it.",
    )


def percent_encode(value: str) -> str:
    """RFC 3986 as Aliyun wants it: space -> %20, '*' -> %2A, '~' kept."""
    return quote(value, safe="~")


def rpc_signature(method: str, params: dict[str, str], secret: str) -> str:
    canonical = "&".join(
        f"{percent_encode(key)}={percent_encode(value)}" for key, value in sorted(params.items())
    )
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def to_aliyun_number(receiver: str) -> str | None:
    """Mainland mobiles as 11 digits, others as country code + number without '+'."""
    number = re.sub(r"[\s\-()]", "", receiver or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if re.fullmatch(r"(\+?86)?1\d{10}", number):
        return number[-11:]
    if re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return number[1:]
    return None


def classify(code: str, message: str) -> DeliveryError:
    # SignatureDoesNotMatch appends the whole string to sign (numbers, parameters): drop it.
    message = message.split("server string to sign", 1)[0].strip(" :,.")
    reason = f"Aliyun SMS: {message}" if message else f"Aliyun SMS error {code}"
    if code == "isv.BUSINESS_LIMIT_CONTROL":
        # Per-number flow control (default 1/minute, 5/hour, 10/day); the message says which.
        retry_after = 60.0 if "分钟" in message else 3600.0
        return DeliveryError(reason, rate_limited=True, retry_after=retry_after, code=code)
    if code == "isv.DAY_LIMIT_CONTROL":
        return DeliveryError(reason, rate_limited=True, retry_after=3600.0, code=code)
    if code.startswith("Throttling"):
        return DeliveryError(reason, rate_limited=True, retry_after=1.0, code=code)
    if code in _TRANSIENT:
        return DeliveryError(reason, code=code)
    # SignatureDoesNotMatch, InvalidAccessKeyId.*, isv.SMS_SIGNATURE_ILLEGAL,
    # isv.SMS_TEMPLATE_ILLEGAL, isv.MOBILE_NUMBER_ILLEGAL, isv.AMOUNT_NOT_ENOUGH, ...
    return DeliveryError(reason, permanent=True, code=code)


class AliyunSmsAdapter(ProviderAdapter):
    provider = "aliyun_sms"
    label = "Alibaba Cloud SMS (Aliyun)"
    channels = (Channel.SMS,)
    # Bounded well below PhoneNumbers' 1000: messages with their own parameters cost one call each.
    max_batch_size = 100
    default_base_url = "https://dysmsapi.aliyuncs.com"
    config_serializer = AliyunSmsConfig
    secret_fields = ("access_key_secret",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors: dict[str, str] = {}
        if not re.fullmatch(r"SMS_\d+", str(content.get("template_code") or "").strip()):
            errors["content.template_code"] = (
                "the approved Aliyun template code, e.g. SMS_123456789"
            )
        if "params" in content and not (
            isinstance(content["params"], list)
            and all(isinstance(name, str) and name.strip() for name in content["params"])
        ):
            errors["content.params"] = "a list of the variable names the template uses"
        if not isinstance(content.get("sign_name", ""), str):
            errors["content.sign_name"] = "the approved SMS signature, as text"
        if errors:
            raise serializers.ValidationError(errors)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        groups: dict[tuple[str, str, str, str], list[tuple[int, str]]] = {}
        for index, message in enumerate(messages):
            try:
                number, key = self._prepare(message)
            except DeliveryError as error:
                results[index] = SendResult(error=error)
                continue
            # Mainland numbers are batched; an international one goes in a call of its own.
            group = key if key[3] == "cn" else (*key[:3], f"intl-{index}")
            groups.setdefault(group, []).append((index, number))
        aborted: DeliveryError | None = None
        for key, members in groups.items():
            for start in range(0, len(members), MAX_NUMBERS):
                chunk = members[start : start + MAX_NUMBERS]
                if aborted is None:
                    try:
                        outcome = self._send_chunk(key, chunk, messages)
                    except DeliveryError as error:
                        outcome = [SendResult(error=error)] * len(chunk)
                        if not error.permanent:
                            aborted = error  # down or throttling the account: stop calling
                else:
                    outcome = [SendResult(error=aborted)] * len(chunk)
                for (index, _), result in zip(chunk, outcome, strict=True):
                    results[index] = result
        return [result for result in results if result is not None]

    def _prepare(self, message: OutboundMessage) -> tuple[str, tuple[str, str, str, str]]:
        number = to_aliyun_number(message.receiver)
        if number is None:
            raise DeliveryError(
                "not a phone number Aliyun SMS accepts", permanent=True, code="invalid_receiver"
            )
        content = message.content
        pairs = template_params(message)
        values = all_variables(message) if pairs is None else dict(pairs)
        template_param = (
            json.dumps({k: str(v) for k, v in values.items()}, ensure_ascii=False, sort_keys=True)
            if values
            else ""
        )
        sign_name = content.get("sign_name") or self.config.get("sign_name", "")
        if not sign_name:
            raise DeliveryError(
                "no SMS signature: set content.sign_name or the account's sign_name",
                permanent=True,
                code="missing_sign_name",
            )
        region = "cn" if len(number) == 11 and number.startswith("1") else "intl"
        return number, (str(content["template_code"]).strip(), sign_name, template_param, region)

    def _send_chunk(
        self, key: tuple, chunk: list[tuple[int, str]], messages: list[OutboundMessage]
    ) -> list[SendResult]:
        template_code, sign_name, template_param = key[0], key[1], key[2]
        params = {
            "PhoneNumbers": ",".join(number for _, number in chunk),
            "SignName": sign_name,
            "TemplateCode": template_code,
        }
        if template_param:
            params["TemplateParam"] = template_param
        if len(chunk) == 1:
            # Echoed in receipts: lets a receipt be matched to the Tidings message.
            params["OutId"] = messages[chunk[0][0]].message_id
        try:
            biz_id = self._call("SendSms", params)
        except DeliveryError as error:
            if error.code not in _SPLIT_ON:
                raise
            if len(chunk) == 1:
                return [SendResult(error=error)]  # about this number only
            results: list[SendResult] = []
            for member in chunk:
                try:
                    results.extend(self._send_chunk(key, [member], messages))
                except DeliveryError as single_error:
                    results.append(SendResult(error=single_error))
            return results
        return [SendResult(provider_message_id=biz_id) for _ in chunk]

    def _call(self, action: str, business: dict[str, str]) -> str:
        return str(self.call(action, business).get("BizId", ""))

    def call(self, action: str, business: dict[str, str]) -> dict[str, Any]:
        """One signed RPC call (SendSms, QuerySendDetails, …); the whole answer, or a
        classified DeliveryError."""
        params = {
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": self.config["access_key_id"],
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **business,
        }
        params["Signature"] = rpc_signature("POST", params, self.config["access_key_secret"])
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        response = http_request(
            "POST",
            self.base_url + "/",
            data=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            check_status=False,
        )
        # Gateway errors (bad signature, unknown key) come as JSON with HTTP 4xx/5xx.
        try:
            answer = response.json()
            code = str(answer["Code"])
        except (ValueError, KeyError, TypeError):
            raise_for_status(response)
            raise DeliveryError(
                f"unexpected Aliyun SMS answer (HTTP {response.status_code})", code="bad_response"
            ) from None
        if code != "OK":
            if response.status_code >= 500 and code not in _TRANSIENT:
                raise DeliveryError(f"Aliyun SMS: {answer.get('Message', '')}", code=code)
            raise classify(code, str(answer.get("Message", "")))
        return answer
