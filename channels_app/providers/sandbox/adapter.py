"""Built-in provider that sends nothing: it records each message (visible in the admin)."""

from __future__ import annotations

import re
import uuid

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.models import SandboxDelivery
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult


class SandboxConfig(serializers.Serializer):
    reject_receivers = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Regex; matching receivers fail permanently, to try out failure handling.",
    )

    def validate_reject_receivers(self, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise serializers.ValidationError(f"not a valid regular expression: {exc}") from None
        return value


class SandboxAdapter(ProviderAdapter):
    provider = "sandbox"
    label = "Sandbox (records, sends nothing)"
    channels = tuple(Channel.values)
    max_batch_size = 1000
    config_serializer = SandboxConfig

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        pattern = self.config.get("reject_receivers") or ""
        rejected = re.compile(pattern) if pattern else None
        results: list[SendResult] = []
        deliveries: list[SandboxDelivery] = []
        for message in messages:
            if rejected and rejected.search(message.receiver):
                error = DeliveryError("sandbox: receiver rejected", permanent=True, code="rejected")
                results.append(SendResult(error=error))
                continue
            provider_id = f"sandbox-{uuid.uuid4().hex}"
            deliveries.append(
                SandboxDelivery(
                    account_id=self.account_id,
                    message_id=message.message_id,
                    receiver=message.receiver,
                    content=message.content,
                    provider_message_id=provider_id,
                )
            )
            results.append(SendResult(provider_message_id=provider_id))
        SandboxDelivery.objects.bulk_create(deliveries)
        return results
