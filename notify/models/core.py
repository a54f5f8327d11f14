from __future__ import annotations

import uuid

from django.db import models


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
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """Only a SHA-256 of the key is stored; the key itself is shown once, at creation."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.app.name}: {self.prefix}…"


class SendRequest(models.Model):
    """One call of POST /api/v1/send. Its messages hold one row per receiver."""

    request_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="send_requests")
    template = models.ForeignKey(
        "templates_app.MessageTemplate", on_delete=models.PROTECT, related_name="send_requests"
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
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
