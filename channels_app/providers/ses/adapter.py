"""Amazon SES (API v2, SendEmail with a raw MIME body) through anymail's boto3 backend.

The account's base_url becomes boto3's `endpoint_url` (a VPC endpoint, or a local fake in
tests), checked by the egress policy before each batch; without it boto3 uses the region's
public endpoint. botocore's own retries are off:
the delivery pipeline retries with its own backoff and must see every failure.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import serializers

from channels_app.providers.anymail_common import METADATA_KEY, AnymailAdapter, EspConfig
from channels_app.providers.base import OutboundMessage
from channels_app.providers.egress import (
    EgressDenied,
    EgressUnresolved,
    egress_check_url,
    egress_delivery_error,
)


class SesConfig(EspConfig):
    region = serializers.RegexField(
        r"^[a-z]{2}(-[a-z]+)+-\d+$", help_text="e.g. us-east-1", max_length=40
    )
    access_key_id = serializers.RegexField(r"^[A-Z0-9]{16,128}$", help_text="AKIA...")
    secret_access_key = serializers.CharField(min_length=16, max_length=256)
    configuration_set = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="SES configuration set, for event publishing (receipts).",
    )


# SES message tag values allow only these characters.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


class SesAdapter(AnymailAdapter):
    provider = "ses"
    label = "Amazon SES"
    backend_path = "anymail.backends.amazon_ses.EmailBackend"
    config_serializer = SesConfig
    secret_fields = ("secret_access_key",)

    def connection_kwargs(self) -> dict[str, Any]:
        timeout = settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS
        client_params: dict[str, Any] = {
            "region_name": self.config["region"],
            "config": {
                "connect_timeout": timeout,
                "read_timeout": timeout,
                "retries": {"total_max_attempts": 1},
            },
        }
        if self.base_url:
            # boto3 resolves and connects on its own: the endpoint is checked here, before
            # every batch (not pinned; see docs/operations.md, Egress policy).
            try:
                egress_check_url(self.base_url)
            except (EgressDenied, EgressUnresolved) as exc:
                raise egress_delivery_error(exc, "SES endpoint") from None
            client_params["endpoint_url"] = self.base_url
        kwargs: dict[str, Any] = {
            # Explicit keys only: never fall back to the server's own AWS credentials.
            "session_params": {
                "aws_access_key_id": self.config["access_key_id"],
                "aws_secret_access_key": self.config["secret_access_key"],
                "region_name": self.config["region"],
            },
            "client_params": client_params,
        }
        if self.config.get("configuration_set"):
            kwargs["configuration_set_name"] = self.config["configuration_set"]
        return kwargs

    def esp_extra(self, message: OutboundMessage) -> dict[str, Any]:
        # Message tags reach SES event publishing (SNS/Firehose), where headers do not.
        tags = [{"Name": METADATA_KEY, "Value": _TAG_UNSAFE.sub("_", message.message_id)}]
        if message.template_code:
            tags.append({"Name": "template", "Value": _TAG_UNSAFE.sub("_", message.template_code)})
        return {"EmailTags": tags}
