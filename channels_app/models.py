from __future__ import annotations

from django.db import models

from channels_app.channels import Channel
from channels_app.fields import EncryptedJSONField


class ChannelAccount(models.Model):
    """Credentials for one provider, owned by one App. `config` is encrypted at rest."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="channel_accounts")
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=30, choices=Channel.choices)
    provider = models.CharField(max_length=50)
    config = EncryptedJSONField(blank=True, default=dict)
    base_url = models.URLField(
        blank=True,
        default="",
        help_text="Overrides the provider's API address (private gateways, tests).",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "name"], name="uniq_channel_account_name_per_app"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class SandboxDelivery(models.Model):
    """What the built-in sandbox provider would have sent; shown in the admin."""

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    message_id = models.UUIDField(db_index=True)
    receiver = models.CharField(max_length=320)
    content = models.JSONField()
    provider_message_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "sandbox deliveries"

    def __str__(self) -> str:
        return f"{self.receiver} ({self.message_id})"
