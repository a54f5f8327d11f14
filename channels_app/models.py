from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from channels_app.fields import EncryptedJSONField
from channels_app.providers.registry import channel_choices
from templates_app.models import MessageType

# The largest routing weight: `weight` is a PostgreSQL integer column.
MAX_WEIGHT = 2**31 - 1
# Requests in flight per worker process and account (single-request providers).
MAX_IN_FLIGHT = 256


def validate_type_weights(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError("an object of message type -> weight")
    for key, weight in value.items():
        if key not in MessageType.values:
            raise ValidationError(
                f"unknown message type {key!r}: use {', '.join(MessageType.values)}"
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            raise ValidationError(f"the weight for {key!r} must be an integer 0..{MAX_WEIGHT}")


class ChannelAccount(models.Model):
    """Credentials for one provider, owned by one App. `config` is encrypted at rest."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="channel_accounts")
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=30, choices=channel_choices)
    provider = models.CharField(max_length=50)
    config = EncryptedJSONField(blank=True, default=dict)
    base_url = models.URLField(
        blank=True,
        default="",
        help_text="Overrides the provider's API address (private gateways, tests).",
    )
    enabled = models.BooleanField(default=True)
    # Routing: a template that names no account sends through the App's enabled accounts
    # for its channel, chosen by weight (per message type when `type_weights` names it).
    weight = models.PositiveIntegerField(
        default=100,
        validators=[MinValueValidator(1)],
        help_text="Share of routed traffic, relative to the channel's other accounts.",
    )
    type_weights = models.JSONField(
        blank=True,
        default=dict,
        validators=[validate_type_weights],
        help_text='Per message type, e.g. {"verification": 80, "marketing": 0}; 0 excludes.',
    )
    # A provider taking one message per request gets this many requests in flight at once
    # from each worker process: what a killed worker can leave "in doubt" is at most this.
    max_in_flight = models.PositiveSmallIntegerField(
        default=64,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_IN_FLIGHT)],
        help_text="Concurrent requests per worker process for one-message-per-call providers.",
    )
    # Health, written after each provider call; the breaker state itself lives in Redis.
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, default="", editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
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

    def weight_for(self, message_type: str) -> int:
        return int(self.type_weights.get(message_type, self.weight))


class InboxItem(models.Model):
    """One message in a user's in-app inbox, written by the `inbox` provider."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=320)
    # No database constraint: the message table is partitioned (see tracking.models.Message).
    message = models.OneToOneField(
        "tracking.Message", on_delete=models.CASCADE, related_name="inbox_item", db_constraint=False
    )
    title = models.CharField(max_length=500, blank=True, default="")
    body = models.TextField()
    data = models.JSONField(blank=True, default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["app", "user_id", "-id"], name="inbox_user_newest"),
            models.Index(
                fields=["app", "user_id"],
                name="inbox_user_unread",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title or self.body[:40]}"


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


class MediaFile(models.Model):
    """A file an App uploaded for its media messages (images, documents); templates name it
    by id in `content.media.file`. Stored in the default storage (MEDIA_ROOT or S3), never
    served publicly: only the workers read it, to upload it to the provider."""

    id = models.UUIDField(primary_key=True)
    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="+")
    file = models.FileField(upload_to="media/%Y/%m/")
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["app", "-created_at"], name="mediafile_app_recent")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.size} bytes)"
