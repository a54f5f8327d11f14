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
    ACTIVE = "active", "Active"
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
        max_length=10, choices=TemplateStatus.choices, default=TemplateStatus.ACTIVE
    )
    track_clicks = models.BooleanField(
        default=False,
        help_text="Rewrite http(s) links to a short /t/<token> redirect that records CLICKED.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "code"], name="uniq_template_code_per_app")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.channel})"
