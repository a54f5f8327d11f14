"""Shared by the WeChat adapters (official account template messages, mini program subscribe
messages): one access token per appid, errcode classification, and the `data` shape.

WeChat answers errors with HTTP 200 and `{"errcode": N, "errmsg": "... rid: ..."}`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests
from rest_framework import serializers

from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.http import http_request
from channels_app.providers.token_api import AccessTokenApi, json_object

# The token was replaced (fetching a new one retires the old after 5 min), expired or is wrong.
# 45009 daily/minute API quota; 45011 API minute quota; 45047 customer-service message limit.
RATE_LIMITED = frozenset({45009, 45011, 45047})
PERMANENT = frozenset(
    {
        40002,  # invalid grant_type
        40003,  # invalid openid
        40013,  # invalid appid
        40036,  # invalid template_id size
        40037,  # invalid template_id
        40125,  # invalid appsecret
        40164,  # caller IP not in the whitelist
        40165,  # invalid weapp pagepath
        41001,  # access_token missing
        41030,  # invalid page
        43004,  # user does not follow the account
        43101,  # user refused / did not subscribe
        43116,  # template banned for abuse
        47001,  # body is not valid JSON
        47003,  # argument invalid (data / miniprogram)
        48001,  # API not authorised for this account
        61023,  # refresh token invalid / account deauthorised
    }
)


class WeChatConfig(serializers.Serializer):
    appid = serializers.CharField(max_length=64)
    secret = serializers.CharField(max_length=128)
    # The server URL's credentials (服务器配置), for the receipts WeChat pushes there.
    token = serializers.RegexField(
        r"^[A-Za-z0-9]{3,32}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="Server config Token (3-32 letters or digits): receipts are signed with it",
    )
    encoding_aes_key = serializers.RegexField(
        r"^[A-Za-z0-9]{43}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="Server config EncodingAESKey (43 characters), for safe-mode receipts",
    )


def wechat_error(code: int, errmsg: str) -> DeliveryError:
    reason = f"wechat: {errmsg[:200]}"
    if code in RATE_LIMITED:
        return DeliveryError(reason, rate_limited=True, code=str(code))
    return DeliveryError(reason, permanent=code in PERMANENT, code=str(code))


def json_body(response: requests.Response) -> dict[str, Any]:
    return json_object(response, "wechat")


def data_payload(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Template content gives `{key: "text"}` or `{key: {"value": ..., "color": ...}}`."""
    return {
        key: dict(value) if isinstance(value, dict) else {"value": str(value)}
        for key, value in data.items()
    }


def validate_template_fields(content: dict[str, Any]) -> dict[str, str]:
    """Errors for the fields both WeChat template kinds need: template_id and data."""
    errors: dict[str, str] = {}
    if not isinstance(content.get("template_id"), str) or not content["template_id"].strip():
        errors["content.template_id"] = "the WeChat template id is required"
    data = content.get("data")
    if not isinstance(data, dict) or not data:
        errors["content.data"] = 'a non-empty object like {"first": "{$name}"} is required'
    else:
        for key, value in data.items():
            if isinstance(value, dict):
                if "value" not in value:
                    errors[f"content.data.{key}"] = 'an object value needs a "value" key'
            elif not isinstance(value, str | int | float):
                errors[f"content.data.{key}"] = "must be a string or {value, color}"
    return errors


class WeChatAdapter(AccessTokenApi, ProviderAdapter):
    """One POST per message to `send_path` with the appid's cached access token."""

    send_path: ClassVar[str]
    default_base_url = "https://api.weixin.qq.com"
    # One HTTP call per message: results are recorded after each, so nothing is left in doubt.
    max_batch_size = 1
    secret_fields = ("secret", "token", "encoding_aes_key")

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        raise NotImplementedError

    def api_error(self, code: int, message: str) -> DeliveryError:
        return wechat_error(code, message)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        for index, message in enumerate(messages):
            try:
                body = self.call(self.send_path, self.payload(message))
            except DeliveryError as error:
                results.append(SendResult(error=error))
                if error.rate_limited:  # the quota is per app: the rest would be refused too
                    results.extend(SendResult(error=error) for _ in messages[index + 1 :])
                    break
            else:
                results.append(SendResult(provider_message_id=str(body.get("msgid", ""))))
        return results

    @property
    def token_name(self) -> str:
        # Per appid, not per account: a new token retires the previous one for every caller.
        return f"wechat:{self.config['appid']}"

    def _fetch_token(self) -> tuple[str, int]:
        response = http_request(
            "GET",
            f"{self.base_url}/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self.config["appid"],
                "secret": self.config["secret"],
            },
        )
        body = json_body(response)
        if not body.get("access_token"):
            raise wechat_error(int(body.get("errcode") or -1), str(body.get("errmsg", "no token")))
        return str(body["access_token"]), int(body.get("expires_in") or 7200)
