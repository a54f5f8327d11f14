from __future__ import annotations

import os
import time
import uuid
from bisect import bisect_right

from django.db import models
from django.db.models import Q

from channels_app.fields import EncryptedTextField


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


def new_message_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): time-ordered, so the unique index on millions of messages takes
    appends instead of random inserts. 48 bits of milliseconds, version, 74 random bits."""
    millis = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = (rand >> 62) & 0xFFF, rand & ((1 << 62) - 1)
    return uuid.UUID(int=millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


def new_message_ids(count: int) -> list[str]:
    """`count` new_message_id()s as text, made in one go (a 10k-receiver send): one
    urandom call and no UUID objects, which cost more than the ids themselves."""
    millis = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    head = millis << 80 | 0x7 << 76
    noise = os.urandom(10 * count)
    ids = []
    for start in range(0, 10 * count, 10):
        rand = int.from_bytes(noise[start : start + 10], "big")
        h = f"{head | ((rand >> 62) & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1):032x}"
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


class Message(models.Model):
    """One message to one receiver: the source of truth for its delivery.

    On PostgreSQL this table and MessageEvent are partitioned by time (tracking/partitions.py):
    their primary keys are (id, created_at) and (id, at) in the database, `message_id` is
    unique per partition (UUIDv7 ids are unique by construction), and no foreign key points
    at them in the database (a partitioned table's unique keys must include the partition
    column) — Django still cascades deletes, and retention drops whole partitions."""

    message_id = models.UUIDField(default=new_message_id, unique=True, editable=False)
    # FK indexes that composite indexes below already cover are left out: every index is
    # written for each of up to 100k rows a send inserts. For the same reason the four
    # parents are not checked by the database (db_constraint=False): a send takes them from
    # rows it holds in its own transaction, and PostgreSQL's deferred checks cost one
    # lookup per row and key at commit, 40k lookups (~120 ms) for a 10k-receiver send.
    # Django still cascades and protects deletes; retention deletes a request only once
    # its messages are gone.
    app = models.ForeignKey(
        "notify.App",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    request = models.ForeignKey(
        "notify.SendRequest",
        on_delete=models.CASCADE,
        related_name="messages",
        db_constraint=False,
    )
    template = models.ForeignKey(
        "templates_app.MessageTemplate",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    channel = models.CharField(max_length=30)
    account = models.ForeignKey(
        "channels_app.ChannelAccount",
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
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
    # Set on a message created by POST /messages/{id}/resend: the message it repeats.
    # Indexed only where set (below): nearly every row leaves it empty.
    resent_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resends",
        db_index=False,
        db_constraint=False,  # partitioned: see the class docstring
    )
    # A resend whose caller said to send it even in the receiver's quiet hours. A database
    # default: the bulk COPY of a send does not list the column.
    ignore_quiet_hours = models.BooleanField(db_default=False)
    # The template variant sent (a key of its `locales`, "" for its default content); a
    # database default, so the COPY of notify.pipeline need not list it.
    locale = models.CharField(max_length=35, blank=True, db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["app", "receiver", "id"], name="message_app_receiver"),
            models.Index(
                fields=["resent_from"],
                name="message_resent_from",
                condition=Q(resent_from__isnull=False),
            ),
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

    def trace_events(self) -> list[MessageEvent]:
        """The trace: the stored events (prefetched ones if any), led by the ACCEPTED of a
        plain send, which is derived from `created_at` rather than stored (a 10k-receiver
        send would otherwise write 10k identical rows). A held send starts with its stored
        SCHEDULED, a resend with its stored ACCEPTED (both carry a detail). QUEUED, the
        publishing on its lane, is derived from `queued_at` too (the consumer wrote a row
        per message for it before); a re-enqueue after a crash is stored with its reason."""
        events = sorted(self.events.all(), key=lambda e: (e.at, e.id or 0))
        if self.queued_at is not None and not any(
            e.state == MessageState.QUEUED and e.at == self.queued_at for e in events
        ):
            queued = MessageEvent(
                message=self,
                state=MessageState.QUEUED,
                at=self.queued_at,
                detail=f"lane {lane_name(self.channel, self.priority)}",
            )
            events.insert(bisect_right([e.at for e in events], self.queued_at), queued)
        if not any(e.state in STORED_FIRST_STATES for e in events):
            accepted = MessageEvent(
                message=self, state=MessageState.ACCEPTED, at=self.created_at, detail=""
            )
            events.insert(0, accepted)
        return events


def lane_name(channel: str, priority: str) -> str:
    """The broker queue a message is published on (notify.queueing)."""
    return f"{channel}.{priority}"


# A trace that holds one of these stored its own first step (held sends, resends, rows
# from before the ACCEPTED of a send was derived); any other starts with a derived ACCEPTED.
STORED_FIRST_STATES = frozenset({"ACCEPTED", "SCHEDULED"})


class MessageEvent(models.Model):
    """One step of a message's lifecycle trace."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    state = models.CharField(max_length=20)
    at = models.DateTimeField()
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.state} at {self.at:%Y-%m-%d %H:%M:%S}"


class DailyStat(models.Model):
    """Trace events counted per App / template / channel / priority / day / state.

    events_record INSERTs one row per key per batch, in the transaction of the events (so
    stats and traces always agree) and without touching existing rows: no hot row is locked
    for the rest of the caller's transaction, so concurrent writers never wait on or
    deadlock over a counter. Readers SUM(count) per key; beat folds a key's rows into one
    (stats_compact). Stats never COUNT(*) the message table and outlive retention."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(
        "templates_app.MessageTemplate", on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=30)
    priority = models.CharField(max_length=10)
    day = models.DateField()
    state = models.CharField(max_length=20)
    count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "app"], name="daily_stat_day_app")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.state}: {self.count}"


class FailureStat(models.Model):
    """Failure reasons (FAILED / UNDELIVERED / EXPIRED event details) counted per day;
    written and folded like DailyStat."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(
        "templates_app.MessageTemplate", on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=30)
    priority = models.CharField(max_length=10)
    day = models.DateField()
    state = models.CharField(max_length=20)
    reason = models.CharField(max_length=200)
    count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "app"], name="failure_stat_day_app")]

    def __str__(self) -> str:
        return f"{self.day} {self.reason}: {self.count}"


class TrackedLink(models.Model):
    """A link of a click-tracked message, served as /t/<token>."""

    token = models.CharField(max_length=32, unique=True)
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    url = models.TextField()
    clicks = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    first_clicked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.token


class CallbackEndpoint(models.Model):
    """Where an App wants status events of its messages POSTed (signed, batched)."""

    app = models.OneToOneField(
        "notify.App", on_delete=models.CASCADE, related_name="callback_endpoint"
    )
    url = models.URLField(max_length=500)
    # HMAC-SHA256 key of X-Tidings-Signature; write-only in the API, encrypted at rest.
    secret = EncryptedTextField()
    # Only these states are sent; empty: every state.
    states = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.url


class CallbackOutbox(models.Model):
    """A status event waiting to be POSTed to its App's callback URL; written in the same
    transaction as the event, deleted once delivered."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    state = models.CharField(max_length=20)
    at = models.DateTimeField()
    detail = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    dead = models.BooleanField(default=False)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name_plural = "callback outbox"
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="callback_outbox_due",
                condition=Q(dead=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.state} of message {self.message_id}"


class CallbackDelivery(models.Model):
    """One POST to an App's callback URL: the delivery log shown in the admin."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    at = models.DateTimeField()
    events = models.PositiveIntegerField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "callback deliveries"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.url} {'ok' if self.ok else 'failed'}"


class ReplayAudit(models.Model):
    """One bulk replay (POST /api/v1/messages/replay or the admin): who asked, when, for
    which selection, and how many messages it matched and resent."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="+")
    # "api-key <prefix>" or "staff <username>": never the secret.
    actor = models.CharField(max_length=200)
    at = models.DateTimeField()
    filter = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    matched = models.PositiveIntegerField(default=0)
    resent = models.PositiveIntegerField(default=0)
    # Matched but already resent earlier (by a replay or a single resend): not sent again.
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        mode = "dry run" if self.dry_run else f"{self.resent} resent"
        return f"replay #{self.pk} by {self.actor} at {self.at:%Y-%m-%d %H:%M:%S} ({mode})"
