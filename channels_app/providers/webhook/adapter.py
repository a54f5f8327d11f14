"""Generic webhook: POST JSON to the account's URL, signed with HMAC-SHA256.

Signature: `X-Tidings-Signature: sha256=<hex HMAC(secret, "<timestamp>.<body>")>` with the
timestamp in `X-Tidings-Timestamp`, so a receiver can reject replays. Each message carries
its `message_id`; receivers deduplicate on it (a message may arrive twice after a crash).
With `batch_size` > 1, one POST carries {"messages": [...]}; with 1 (the default) each
POST carries one message and an `Idempotency-Key` header (its message_id), and the delivery
code keeps many POSTs in flight.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.egress import validate_egress_url
from channels_app.providers.http import http_request


class WebhookConfig(serializers.Serializer):
    url = serializers.URLField(validators=[validate_egress_url])
    secret = serializers.CharField(required=False, allow_blank=True, default="")
    headers = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    batch_size = serializers.IntegerField(min_value=1, max_value=1000, default=1)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookAdapter(ProviderAdapter):
    provider = "webhook"
    label = "Webhook (signed JSON POST)"
    channels = (Channel.WEBHOOK,)
    max_batch_size = 1000
    config_serializer = WebhookConfig
    secret_fields = ("secret",)

    @property
    def batch_size(self) -> int:
        return self.config.get("batch_size", 1)

    @property
    def single_request(self) -> bool:
        # One message per POST: the delivery code keeps many of them in flight.
        return self.batch_size == 1

    def send_one(self, message: OutboundMessage) -> SendResult:
        # The message id as idempotency key: a resend after a crash carries the same one.
        self._post(_payload(message), {"Idempotency-Key": message.message_id})
        return SendResult(provider_message_id=message.message_id)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        if self.single_request:
            return super().send(messages)
        results: list[SendResult] = []
        for start in range(0, len(messages), self.batch_size):
            chunk = messages[start : start + self.batch_size]
            # A failed chunk fails only its own messages: earlier chunks are already delivered.
            try:
                self._post({"messages": [_payload(message) for message in chunk]}, {})
            except DeliveryError as error:
                results.extend(SendResult(error=error) for _ in chunk)
            else:
                results.extend(SendResult(provider_message_id=m.message_id) for m in chunk)
        return results

    def _post(self, payload: dict, extra_headers: dict[str, str]) -> None:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            **self.config.get("headers", {}),
            **extra_headers,
            "Content-Type": "application/json",
            "X-Tidings-Timestamp": timestamp,
        }
        if self.config.get("secret"):
            headers["X-Tidings-Signature"] = sign(self.config["secret"], timestamp, body)
        url = self.base_url or self.config["url"]
        http_request("POST", url, data=body, headers=headers)


def _payload(message: OutboundMessage) -> dict:
    return {
        "message_id": message.message_id,
        "receiver": message.receiver,
        "biz_id": message.biz_id,
        "template": message.template_code,
        "content": message.content,
    }
