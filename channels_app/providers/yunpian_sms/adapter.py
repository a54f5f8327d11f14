"""Yunpian (云片) SMS v2: `batch_send.json` for text, `tpl_batch_send.json` for a template id.

Both take one text (or one template + values) and up to 1000 comma-joined numbers, and
answer one `data` entry per number with its own `code` and `sid`. Auth is the account's
apikey in the form. Template content, either:
  {"text": "【Acme】Your code is {$code}"}  (must match an approved template, signature included)
  {"tpl_id": "1234567", "params": ["code"]}  (tpl_value "#code#=..."; without params, all variables)
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request, raise_for_status
from channels_app.providers.sms_params import all_variables, template_params

MAX_NUMBERS = 1000
_SIGNATURE = re.compile(r"^【[^】]+】|【[^】]+】$")

# Yunpian's return codes that mean "too often", with how long until a retry can pass.
_RATE_LIMITS = {
    8: 30.0,  # same content to one number within 30 s
    9: 300.0,  # same content to one number more than 3 times in 5 min
    17: 3600.0,  # too many to one number within 24 h
    22: 3600.0,  # too many to one number within 1 h
    33: 1.0,  # request frequency exceeded
    -4: 60.0,  # API call count exceeded
    -5: 1.0,  # API call frequency exceeded
}
_TRANSIENT = {-50, -51, -53}  # unknown exception, system busy, submit failed


class YunpianSmsConfig(serializers.Serializer):
    apikey = serializers.RegexField(r"^[0-9a-fA-F]{32}$", help_text="The account's 32-hex apikey")


def to_yunpian_number(receiver: str) -> str | None:
    """Mainland mobiles as 11 digits; others in E.164 with '+' (Yunpian reads bare numbers as Chinese)."""
    number = re.sub(r"[\s\-()]", "", receiver or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if re.fullmatch(r"(\+?86)?1\d{10}", number):
        return number[-11:]
    if re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return number
    return None


def classify(code: int, message: str, detail: str = "") -> DeliveryError:
    text = f"{message} ({detail})" if detail and detail != message else message
    reason = f"Yunpian: {text}" if text else f"Yunpian error {code}"
    if code in _RATE_LIMITS:
        return DeliveryError(
            reason, rate_limited=True, retry_after=_RATE_LIMITS[code], code=str(code)
        )
    if code in _TRANSIENT:
        return DeliveryError(reason, code=str(code))
    # -1 bad apikey, -2/-3 no permission, 1/2 bad parameters, 3 no balance, 4 blocked words,
    # 5/7 template missing or unusable, 10 number on the blocklist, 15/16 signature, ...
    return DeliveryError(reason, permanent=True, code=str(code))


def tpl_value(values: dict[str, Any]) -> str:
    """`urlencode("#name#")=urlencode(value)&...` as Yunpian documents (the form encodes it again)."""
    return "&".join(
        f"{quote(f'#{name}#', safe='')}={quote(str(value), safe='')}"
        for name, value in values.items()
    )


class YunpianSmsAdapter(ProviderAdapter):
    provider = "yunpian_sms"
    label = "Yunpian SMS (云片)"
    channels = (Channel.SMS,)
    max_batch_size = MAX_NUMBERS
    default_base_url = "https://sms.yunpian.com"
    config_serializer = YunpianSmsConfig
    secret_fields = ("apikey",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        text, tpl_id = content.get("text"), content.get("tpl_id")
        if tpl_id is not None:
            errors: dict[str, str] = {}
            if not re.fullmatch(r"\d+", str(tpl_id).strip()):
                errors["content.tpl_id"] = "the Yunpian template id (digits)"
            params = content.get("params", [])
            if not isinstance(params, list) or not all(isinstance(p, str) and p for p in params):
                errors["content.params"] = "a list of the template's variable names"
            if errors:
                raise serializers.ValidationError(errors)
            return
        if not isinstance(text, str) or not text.strip():
            raise serializers.ValidationError(
                {"content.text": "set text (matching an approved template) or tpl_id"}
            )
        if not _SIGNATURE.search(text.strip()):
            raise serializers.ValidationError(
                {"content.text": "Yunpian needs the signature in the text, e.g. 【Acme】..."}
            )

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        groups: dict[tuple[str, ...], list[tuple[int, str]]] = {}
        for index, message in enumerate(messages):
            try:
                number, key = self._prepare(message)
            except DeliveryError as error:
                results[index] = SendResult(error=error)
                continue
            # International numbers go one per call; mainland ones share a call.
            group = key if not number.startswith("+") else (*key, str(index))
            groups.setdefault(group, []).append((index, number))
        aborted: DeliveryError | None = None
        for key, members in groups.items():
            for chunk in _chunks(members):
                if aborted is None:
                    try:
                        outcome = self._send_chunk(key, [number for _, number in chunk])
                    except DeliveryError as error:
                        outcome = [SendResult(error=error)] * len(chunk)
                        if not error.permanent:
                            aborted = error  # down or throttling the account: stop calling
                else:
                    outcome = [SendResult(error=aborted)] * len(chunk)
                for (index, _), result in zip(chunk, outcome, strict=True):
                    results[index] = result
        return [result for result in results if result is not None]

    def _prepare(self, message: OutboundMessage) -> tuple[str, tuple[str, ...]]:
        number = to_yunpian_number(message.receiver)
        if number is None:
            raise DeliveryError(
                "not a phone number Yunpian accepts", permanent=True, code="invalid_receiver"
            )
        content = message.content
        if content.get("tpl_id") is None:
            text = str(content.get("text") or "")
            if not text.strip():
                raise DeliveryError("empty SMS text", permanent=True, code="empty_text")
            return number, ("text", text)
        pairs = template_params(message)
        values = all_variables(message) if pairs is None else dict(pairs)
        return number, ("tpl", str(content["tpl_id"]).strip(), tpl_value(values))

    def _send_chunk(self, key: tuple[str, ...], numbers: list[str]) -> list[SendResult]:
        form = {"apikey": self.config["apikey"], "mobile": ",".join(numbers)}
        if key[0] == "text":
            path = "/v2/sms/batch_send.json"
            form["text"] = key[1]
        else:
            path = "/v2/sms/tpl_batch_send.json"
            form["tpl_id"], form["tpl_value"] = key[1], key[2]
        response = http_request(
            "POST",
            self.base_url + path,
            data=form,
            headers={"Accept": "application/json;charset=utf-8"},
            check_status=False,
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise_for_status(response)
            raise DeliveryError(
                f"unexpected Yunpian answer (HTTP {response.status_code})", code="bad_response"
            )
        # A whole-call error: {"http_status_code": 400, "code": -1, "msg": ..., "detail": ...}.
        if not isinstance(answer.get("data"), list):
            code = answer.get("code")
            if response.status_code >= 500 and not isinstance(code, int):
                raise_for_status(response)
            if not isinstance(code, int):
                raise DeliveryError("Yunpian answered without a code", code="bad_response")
            raise classify(code, str(answer.get("msg") or ""), str(answer.get("detail") or ""))
        return _match(numbers, answer["data"])


def _chunks(members: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """At most 1000 numbers per call and no number twice, so each result maps to one message."""
    chunks: list[list[tuple[int, str]]] = []
    seen: list[set[str]] = []
    for member in members:
        for chunk, numbers in zip(chunks, seen, strict=True):
            if len(chunk) < MAX_NUMBERS and member[1] not in numbers:
                chunk.append(member)
                numbers.add(member[1])
                break
        else:
            chunks.append([member])
            seen.append({member[1]})
    return chunks


def _match(numbers: list[str], entries: list[dict[str, Any]]) -> list[SendResult]:
    by_number = {str(entry.get("mobile", "")): entry for entry in entries}
    results: list[SendResult] = []
    for position, number in enumerate(numbers):
        entry = by_number.get(number) or by_number.get(number.lstrip("+"))
        if entry is None and len(entries) == len(numbers):
            entry = entries[position]
        if entry is None:
            error = DeliveryError("Yunpian returned no result for this number", code="no_status")
            results.append(SendResult(error=error))
        elif entry.get("code") == 0:
            results.append(SendResult(provider_message_id=str(entry.get("sid", ""))))
        else:
            code = entry.get("code")
            results.append(
                SendResult(
                    error=classify(
                        code if isinstance(code, int) else -50, str(entry.get("msg") or "")
                    )
                )
            )
    return results
