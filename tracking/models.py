from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class MessageState(models.TextChoices):
    """Every state of the one lifecycle all channels share (and every trace event name)."""

    SCHEDULED = "SCHEDULED", "Scheduled"
    ACCEPTED = "ACCEPTED", "Accepted"
    QUEUED = "QUEUED", "Queued"
    SENDING = "SENDING", "Sending"
    RETRYING = "RETRYING", "Retrying"
    SENT = "SENT", "Sent"
    DELIVERED = "DELIVERED", "Delivered"
    UNDELIVERED = "UNDELIVERED", "Undelivered"
    READ = "READ", "Read"
    CLICKED = "CLICKED", "Clicked"
    FAILED = "FAILED", "Failed"
    EXPIRED = "EXPIRED", "Expired"
    RECALLED = "RECALLED", "Recalled"
    CANCELLED = "CANCELLED", "Cancelled"
    # Consumer rule outcomes
    DISCARDED = "DISCARDED", "Discarded"
    FILTERED_WHITELIST = "FILTERED_WHITELIST", "Filtered (not whitelisted)"
    SENSITIVE_MASKED = "SENSITIVE_MASKED", "Sensitive words masked"
    SENSITIVE_REJECTED = "SENSITIVE_REJECTED", "Rejected (sensitive words)"
    NIGHT_DROPPED = "NIGHT_DROPPED", "Dropped (quiet hours)"
    NIGHT_DEFERRED = "NIGHT_DEFERRED", "Deferred (quiet hours)"
    DEDUP_CONTENT = "DEDUP_CONTENT", "Duplicate content"
    DEDUP_FREQUENCY = "DEDUP_FREQUENCY", "Frequency cap"
    THROTTLED = "THROTTLED", "Throttled"
    OPTED_OUT = "OPTED_OUT", "Opted out"


# States a worker may still act on; the rest are final.
ACTIVE_STATES = (
    MessageState.ACCEPTED,
    MessageState.QUEUED,
    MessageState.SENDING,
    MessageState.RETRYING,
)


class Message(models.Model):
    """One message to one receiver: the source of truth for its delivery."""

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # FK indexes that composite indexes below already cover are left out: every index is
    # written for each of up to 100k rows a send inserts.
    app = models.ForeignKey(
        "notify.App", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    request = models.ForeignKey(
        "notify.SendRequest", on_delete=models.CASCADE, related_name="messages"
    )
    template = models.ForeignKey(
        "templates_app.MessageTemplate", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=30)
    account = models.ForeignKey(
        "channels_app.ChannelAccount",
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
    )
    receiver = models.CharField(max_length=320)
    biz_id = models.CharField(max_length=128, blank=True, default="")
    variables = models.JSONField(default=dict, blank=True)
    content = models.JSONField(default=dict)
    priority = models.CharField(max_length=10)
    state = models.CharField(
        max_length=20, choices=MessageState.choices, default=MessageState.ACCEPTED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The claiming worker owns the message until then; a later claim means it died.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Fencing token of the current claim: a worker dispatches only messages that still carry
    # its token, so one whose lease ran out can never send what another worker now owns.
    claim_token = models.UUIDField(null=True, blank=True)
    # Set just before the provider call: a message found SENDING with this set after its
    # lease ran out may or may not have reached the provider ("in doubt").
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["app", "receiver", "id"], name="message_app_receiver"),
            models.Index(
                fields=["app", "biz_id"], name="message_app_biz_id", condition=~Q(biz_id="")
            ),
            models.Index(fields=["app", "id"], name="message_app_id"),
            models.Index(fields=["template", "id"], name="message_template_id"),
            models.Index(
                fields=["provider_message_id"],
                name="message_provider_id",
                condition=~Q(provider_message_id=""),
            ),
            models.Index(
                fields=["state", "updated_at"],
                name="message_active_state",
                condition=Q(state__in=["ACCEPTED", "QUEUED", "SENDING", "RETRYING"]),
            ),
        ]

    def __str__(self) -> str:
        return str(self.message_id)


class MessageEvent(models.Model):
    """One step of a message's lifecycle trace."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(max_length=20)
    at = models.DateTimeField()
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.state} at {self.at:%Y-%m-%d %H:%M:%S}"
