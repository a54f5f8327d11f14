from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models

RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "100/s" -> (100, 1); raises ValueError for anything else."""
    count, _, period = rate.strip().partition("/")
    seconds = RATE_PERIODS.get(period.strip().lower()[:1]) if period else None
    if not count.strip().isascii() or not count.strip().isdigit() or seconds is None:
        raise ValueError(f"not a rate like 100/s: {rate!r}")
    if not 0 < int(count) <= 10**9:
        raise ValueError(f"the count must be 1..1000000000: {rate!r}")
    return int(count), seconds


def validate_rate(value: str) -> None:
    if value:
        try:
            parse_rate(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Priority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class App(models.Model):
    """A calling system (tenant). Everything else belongs to exactly one App."""

    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    # Four-eyes review of templates: new templates start as drafts, and a change to an
    # active template's content waits (as a pending version) for a second person.
    require_template_review = models.BooleanField(default=False)
    # Requests per period for all of the App's keys together, e.g. "500/s" or "20000/m";
    # empty: TIDINGS_API_RATE_LIMIT (notify.throttling).
    api_rate_limit = models.CharField(
        max_length=32,
        blank=True,
        default="",
        validators=[validate_rate],
        help_text="e.g. 500/s, 20000/m; empty = the TIDINGS_API_RATE_LIMIT default",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Scope(models.TextChoices):
    """`manage` can do everything `send` can."""

    SEND = "send", "Send, and read own messages, traces and stats"
    MANAGE = "manage", "Manage templates, accounts, rules, campaigns and API keys"


def default_scopes() -> list[str]:
    return [Scope.MANAGE.value]


class ApiKey(models.Model):
    """Only a SHA-256 of the key is stored; the key itself is shown once, at creation."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    scopes = models.JSONField(default=default_scopes)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.app.name}: {self.prefix}…"

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or Scope.MANAGE in self.scopes


class SendRequest(models.Model):
    """One call of POST /api/v1/send. Its messages hold one row per receiver."""

    request_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="send_requests")
    template = models.ForeignKey(
        "templates_app.MessageTemplate", on_delete=models.PROTECT, related_name="send_requests"
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    # SHA-256 of the call's content: the same key with another body is a 422, not a replay.
    request_hash = models.CharField(max_length=64, blank=True, default="")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    accepted_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # The rejected receivers and reasons, so a replayed idempotent call answers the same.
    rejected = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "idempotency_key"], name="uniq_send_request_idempotency_key"
            )
        ]

    def __str__(self) -> str:
        return str(self.request_id)
