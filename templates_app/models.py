from __future__ import annotations

from django.db import models

from notify.models import Priority


class MessageType(models.TextChoices):
    NOTICE = "notice", "Notice"
    MARKETING = "marketing", "Marketing"
    VERIFICATION = "verification", "Verification code"


class ReceiverType(models.TextChoices):
    EMAIL = "email", "Email address"
    PHONE = "phone", "Phone number"
    USER_ID = "user_id", "User id"
    OPEN_ID = "open_id", "WeChat open id"
    DEVICE_TOKEN = "device_token", "Push device token"
    CHAT_ID = "chat_id", "Chat / group id"
    URL = "url", "URL"
    ANY = "any", "Any string"


class TemplateStatus(models.TextChoices):
    """draft -> pending_review -> active (approved) -> disabled. Only active sends. Apps
    without `require_template_review` create templates active, as before."""

    DRAFT = "draft", "Draft"
    PENDING_REVIEW = "pending_review", "Pending review"
    ACTIVE = "active", "Active (approved)"
    DISABLED = "disabled", "Disabled"


class MessageTemplate(models.Model):
    """Content for one channel with `{$var}` placeholders, filled per receiver."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=100, help_text="Unique per App; callers send by code.")
    channel = models.CharField(max_length=30)
    message_type = models.CharField(
        max_length=20, choices=MessageType.choices, default=MessageType.NOTICE
    )
    receiver_type = models.CharField(max_length=20, choices=ReceiverType.choices)
    content = models.JSONField(
        help_text='Channel content, e.g. {"subject": "Hi {$name}", "text": "..."}'
    )
    # {"zh-CN": {...}, "en": {...}}: content variants by BCP 47 tag, chosen per receiver
    # (templates_app.locales); `content` is the default when no variant matches.
    locales = models.JSONField(
        default=dict,
        blank=True,
        help_text='Content per language tag, e.g. {"zh-CN": {"subject": "..."}, "en": {...}}',
    )
    default_priority = models.CharField(
        max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    channel_account = models.ForeignKey(
        "channels_app.ChannelAccount",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="templates",
        help_text="Leave empty to use the App's enabled account for the channel.",
    )
    status = models.CharField(
        max_length=20, choices=TemplateStatus.choices, default=TemplateStatus.ACTIVE
    )
    # austin's numeric messageTemplateId, kept by teams migrating from austin so their
    # callers of POST /send need no change (notify.austin resolves it first).
    austin_id = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="austin's messageTemplateId for this template (migration from austin).",
    )
    track_clicks = models.BooleanField(
        default=False,
        help_text="Rewrite http(s) links to a short /t/<token> redirect that records CLICKED.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "code"], name="uniq_template_code_per_app"),
            models.UniqueConstraint(
                fields=["app", "austin_id"],
                name="uniq_template_austin_id_per_app",
                condition=models.Q(austin_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.channel})"


class VersionStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class TemplateVersion(models.Model):
    """A content submitted for review (four-eyes): the template keeps sending its current
    content until a different person approves this one. The audit trail of who submitted
    and who reviewed each content."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    status = models.CharField(
        max_length=12, choices=VersionStatus.choices, default=VersionStatus.PENDING
    )
    # "api-key <prefix>" or "staff <username>"
    submitted_by = models.CharField(max_length=200)
    submitted_at = models.DateTimeField()
    reviewed_by = models.CharField(max_length=200, blank=True, default="")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="uniq_template_version"),
            models.UniqueConstraint(
                fields=["template"],
                name="one_pending_version_per_template",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.code} v{self.number} ({self.status})"
