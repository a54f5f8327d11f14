"""Feishu / Lark app bot (应用机器人): POST /open-apis/im/v1/messages with the app's
tenant_access_token, one call per receiver. Unlike the custom group bot (feishu_bot), the
answer carries the message_id, kept as provider_message_id: the read state of the message
is pulled with it (receipts.py). For Lark, set the account's base_url to
https://open.larksuite.com.

Receivers are ids of `receive_id_type` (open_id by default; user_id, union_id, email or
chat_id). Template content is feishu_bot's: text, post or interactive.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.feishu_common import validate_feishu_content
from channels_app.providers.http import http_request, raise_for_status

RECEIVE_ID_TYPES = ("open_id", "user_id", "union_id", "email", "chat_id")
# 99991661 token missing, 99991663 token invalid, 99991668 token expired.
TOKEN_ERRORS = frozenset({99991661, 99991663, 99991668})
RATE_LIMITED = frozenset({99991400, 230020})  # app frequency limit; per-chat/user limit
PERMANENT = frozenset(
    {
        10003,  # app_id / app_secret invalid (token fetch)
        230001,  # invalid request parameter (receive_id, content)
        230002,  # the bot is not in the chat
        230006,  # bot ability not enabled for the app
        230013,  # the user is outside the bot's availability range
        230017,  # the user blocked the bot
        230025,  # content too long
        230099,  # message content could not be built (bad card / post)
        99991672,  # the app lacks the im:message permission
        99992402,  # field validation failed
    }
)


class FeishuAppConfig(serializers.Serializer):
    app_id = serializers.CharField(max_length=64)
    app_secret = serializers.CharField(max_length=128)
    receive_id_type = serializers.ChoiceField(choices=RECEIVE_ID_TYPES, default="open_id")


def feishu_app_error(code: int, message: str) -> DeliveryError:
    reason = f"feishu: {message[:200]}"
    if code in RATE_LIMITED:
        return DeliveryError(reason, rate_limited=True, code=str(code))
    return DeliveryError(reason, permanent=code in PERMANENT, code=str(code))


def im_content(content: dict[str, Any]) -> tuple[str, str]:
    """(msg_type, content as the JSON string im/v1 takes) from feishu_bot's template content."""
    msg_type = content.get("msg_type", "text")
    if msg_type == "text":
        body: dict[str, Any] = {"text": str(content["text"])}
    elif msg_type == "post":
        body = content.get("post") or {
            "zh_cn": {
                "title": content["title"],
                "content": [
                    [{"tag": "text", "text": line}] for line in str(content["text"]).split("\n")
                ],
            }
        }
    else:
        body = content["card"]
    return msg_type, json.dumps(body, ensure_ascii=False)


class FeishuAppAdapter(ProviderAdapter):
    provider = "feishu_app"
    label = "Feishu / Lark app bot (im/v1 messages)"
    channels = (Channel.FEISHU,)
    # One HTTP call per message: results are recorded after each, so nothing is left in doubt.
    max_batch_size = 1
    default_base_url = "https://open.feishu.cn"
    config_serializer = FeishuAppConfig
    secret_fields = ("app_secret",)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        validate_feishu_content(content, ("text", "post", "interactive"))

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        for index, message in enumerate(messages):
            msg_type, content = im_content(message.content)
            payload = {
                "receive_id": message.receiver,
                "msg_type": msg_type,
                "content": content,
                # Feishu sends one message per uuid within an hour: a retried call after a
                # lost answer does not reach the user twice.
                "uuid": message.message_id,
            }
            try:
                data = self.call(
                    "POST",
                    "/open-apis/im/v1/messages",
                    params={"receive_id_type": self.config.get("receive_id_type", "open_id")},
                    json=payload,
                )
            except DeliveryError as error:
                results.append(SendResult(error=error))
                if error.rate_limited:  # the limit is per app: the rest would be refused too
                    results.extend(SendResult(error=error) for _ in messages[index + 1 :])
                    break
            else:
                results.append(SendResult(provider_message_id=str(data.get("message_id") or "")))
        return results

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One Open API call with the cached tenant token (refreshed once when refused);
        answers `data`. Feishu answers errors as {"code": N, "msg"} (often with HTTP 400)."""
        for attempt in range(2):
            token = self.provider_token(self.token_name, self._fetch_token)
            response = http_request(
                method,
                f"{self.base_url}{path}",
                headers={"Authorization": f"Bearer {token}"},
                check_status=False,
                **kwargs,
            )
            body = _json(response)
            code = int(body.get("code") or 0) if body is not None else 0
            if body is None or (code == 0 and response.status_code >= 300):
                raise_for_status(response)
                raise DeliveryError("feishu: answer is not a JSON object", code="bad_response")
            if code == 0:
                data = body.get("data")
                return data if isinstance(data, dict) else {}
            if code in TOKEN_ERRORS and attempt == 0:
                self.provider_token_rejected(self.token_name, token)
                continue
            if response.status_code == 429:
                raise DeliveryError(f"feishu: {body.get('msg', '')}", rate_limited=True, code="429")
            raise feishu_app_error(code, str(body.get("msg") or ""))
        raise AssertionError("unreachable")

    @property
    def token_name(self) -> str:
        return f"feishu:{self.config['app_id']}"

    def _fetch_token(self) -> tuple[str, int]:
        response = http_request(
            "POST",
            f"{self.base_url}/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": self.config["app_id"], "app_secret": self.config["app_secret"]},
            check_status=False,
        )
        body = _json(response)
        if body is None:
            raise_for_status(response)
            raise DeliveryError("feishu: answer is not a JSON object", code="bad_response")
        code = int(body.get("code") or 0)
        if code or not body.get("tenant_access_token"):
            raise feishu_app_error(code or -1, str(body.get("msg") or "no token"))
        return str(body["tenant_access_token"]), int(body.get("expire") or 7200)


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
