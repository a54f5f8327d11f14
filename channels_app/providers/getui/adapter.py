"""Getui (个推) RestAPI v2 push to client ids (cid).

Auth: POST /v2/{appId}/auth with sign = sha256(appkey + timestamp_ms + mastersecret) gives a
token valid about a day, shared by all workers via tokens.cached_token and sent in a `token`
header. One message goes through /push/single/cid; messages with identical content go as one
task: /push/list/message creates it, /push/list/cid pushes it to up to 1000 cids at once.
Getui answers HTTP 200 with {"code", "msg", "data"}; code 0 is success.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request

CLICK_TYPES = ("startapp", "url", "intent", "payload", "payload_custom", "none")
# The field each click_type needs next to it.
_CLICK_FIELD = {"url": "url", "intent": "intent", "payload": "payload", "payload_custom": "payload"}
MAX_CIDS_PER_CALL = 1000

CODE_TOKEN_INVALID = 10001
# 每分钟鉴权/调用频率超限: per-minute windows, so a minute is the honest retry hint.
_RATE_LIMIT_CODES = {10003, 10005}
_RATE_LIMIT_RETRY_SECONDS = 60.0
# Per-cid results in the push answer; the other values (e.g. "no_user") are refusals.
_DELIVERED = {"successed_online", "successed_offline"}


class GetuiConfig(serializers.Serializer):
    app_id = serializers.CharField(max_length=64)
    app_key = serializers.CharField(max_length=64)
    master_secret = serializers.CharField(max_length=128)
    ttl_seconds = serializers.IntegerField(
        min_value=0, max_value=3 * 24 * 3600, default=3600, help_text="Offline keep time"
    )


class GetuiAdapter(ProviderAdapter):
    provider = "getui"
    label = "Getui 个推 (RestAPI v2)"
    channels = (Channel.PUSH,)
    max_batch_size = MAX_CIDS_PER_CALL
    default_base_url = "https://restapi.getui.com"
    config_serializer = GetuiConfig
    secret_fields = ("master_secret",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors = {}
        for name in ("title", "body"):
            if not isinstance(content.get(name), str) or not content[name].strip():
                errors[f"content.{name}"] = f"a push notification needs a {name}"
        click_type = content.get("click_type") or "startapp"
        if click_type not in CLICK_TYPES:
            errors["content.click_type"] = f"one of {', '.join(CLICK_TYPES)}"
        elif click_type in _CLICK_FIELD and not content.get(_CLICK_FIELD[click_type]):
            field = _CLICK_FIELD[click_type]
            errors[f"content.{field}"] = f"click_type {click_type} needs {field}"
        if errors:
            raise serializers.ValidationError(errors)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        groups: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            key = json.dumps(_push_message(message.content), sort_keys=True)
            groups.setdefault(key, []).append(index)
        stop: DeliveryError | None = None
        for indexes in groups.values():
            group = [messages[i] for i in indexes]
            if stop is not None:
                outcome = [SendResult(error=stop)] * len(group)
            else:
                try:
                    outcome = self._push_group(group)
                except DeliveryError as error:
                    outcome = [SendResult(error=error)] * len(group)
                    # Throttling, bad credentials or an unreachable API fail the rest alike.
                    if error.rate_limited or error.code in _ACCOUNT_WIDE:
                        stop = error
            for i, result in zip(indexes, outcome, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    def _push_group(self, group: list[OutboundMessage]) -> list[SendResult]:
        push_message = _push_message(group[0].content)
        settings = {"ttl": self.config.get("ttl_seconds", 3600) * 1000}
        if len(group) == 1:
            data = self._call(
                "/push/single/cid",
                {
                    # 10-32 chars, unique per push: our message id makes a retry idempotent.
                    "request_id": hashlib.sha256(group[0].message_id.encode()).hexdigest()[:32],
                    "settings": settings,
                    "audience": {"cid": [group[0].receiver]},
                    "push_message": push_message,
                },
            )
            return _per_cid(data, group)
        data = self._call(
            "/push/list/message",
            {"request_id": uuid.uuid4().hex, "settings": settings, "push_message": push_message},
        )
        taskid = str(data.get("taskid") or "")
        if not taskid:
            raise DeliveryError("Getui created no list task", code="no_taskid")
        cids = list(dict.fromkeys(m.receiver for m in group))
        answer = self._call(
            "/push/list/cid", {"audience": {"cid": cids}, "taskid": taskid, "is_async": False}
        )
        return _per_cid(answer, group)

    def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/v2/{self.config['app_id']}{path}"
        for attempt in (1, 2):
            token = self.provider_token(self._token_name(), self._fetch_token)
            body = self._post(url, payload, {"token": token})
            code = body.get("code")
            if code == 0:
                data = body.get("data")
                return data if isinstance(data, dict) else {}
            if code == CODE_TOKEN_INVALID and attempt == 1:
                # Expired or replaced by another auth call: get a new token, once.
                self.provider_token_rejected(self._token_name(), token)
                continue
            raise _classify(code, body.get("msg"))
        raise AssertionError("unreachable")

    def _post(self, url: str, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = http_request(
            "POST",
            url,
            json=payload,
            headers={**headers, "Content-Type": "application/json;charset=utf-8"},
        )
        try:
            body = response.json()
        except ValueError:
            raise DeliveryError("Getui answered non-JSON", code="bad_response") from None
        if not isinstance(body, dict):
            raise DeliveryError("Getui answered non-JSON", code="bad_response")
        return body

    def _token_name(self) -> str:
        ident = f"{self.config['app_id']}|{self.config['app_key']}|{self.base_url}"
        return "getui:" + hashlib.sha256(ident.encode()).hexdigest()[:24]

    def _fetch_token(self) -> tuple[str, int]:
        timestamp = str(int(time.time() * 1000))
        raw = self.config["app_key"] + timestamp + self.config["master_secret"]
        body = self._post(
            f"{self.base_url}/v2/{self.config['app_id']}/auth",
            {
                "sign": hashlib.sha256(raw.encode()).hexdigest(),
                "timestamp": timestamp,
                "appkey": self.config["app_key"],
            },
            {},
        )
        data = body.get("data") or {}
        if body.get("code") != 0 or not data.get("token"):
            error = _classify(body.get("code"), body.get("msg"))
            if error.rate_limited or not error.permanent:
                raise error
            raise DeliveryError(
                f"Getui auth refused: {error.reason}", permanent=True, code="auth_failed"
            )
        # expire_time is an epoch in ms, not a duration.
        expires_in = (int(data.get("expire_time") or 0) - int(timestamp)) // 1000
        return str(data["token"]), max(expires_in, 60)


_ACCOUNT_WIDE = {"auth_failed", "timeout", "connection", str(CODE_TOKEN_INVALID), "10002"}


def _push_message(content: dict[str, Any]) -> dict[str, Any]:
    click_type = content.get("click_type") or "startapp"
    notification = {"title": content["title"], "body": content["body"], "click_type": click_type}
    if click_type in _CLICK_FIELD:
        notification[_CLICK_FIELD[click_type]] = content.get(_CLICK_FIELD[click_type], "")
    return {"notification": notification}


def _per_cid(data: dict[str, Any], group: list[OutboundMessage]) -> list[SendResult]:
    """Answer shape: {"<taskid>": {"<cid>": "successed_online", …}}."""
    results: list[SendResult] = []
    for message in group:
        taskid, status = "", ""
        for task, statuses in data.items():
            if isinstance(statuses, dict) and message.receiver in statuses:
                taskid, status = task, str(statuses[message.receiver])
                break
        if status in _DELIVERED:
            results.append(SendResult(provider_message_id=taskid))
        elif status == "successed_ignore":
            # Getui drops pushes to cids inactive for a long time: the device is gone.
            error = DeliveryError("Getui ignored an inactive cid", permanent=True, code=status)
            results.append(SendResult(error=error))
        elif status:
            results.append(
                SendResult(error=DeliveryError(f"Getui: {status}", permanent=True, code=status))
            )
        else:
            results.append(
                SendResult(
                    error=DeliveryError("Getui gave no result for the cid", code="no_result")
                )
            )
    return results


def _classify(code: Any, msg: Any) -> DeliveryError:
    reason = f"Getui code {code}: {str(msg or '')[:200]}"
    if code in _RATE_LIMIT_CODES:
        return DeliveryError(
            reason, rate_limited=True, retry_after=_RATE_LIMIT_RETRY_SECONDS, code=str(code)
        )
    if isinstance(code, int) and code >= 50000:
        return DeliveryError(reason, code=str(code))  # 系统内部异常
    # 10001 after a fresh token, 10002 blacklisted app/ip, 20001 bad parameter, …
    return DeliveryError(reason, permanent=True, code=str(code))
