"""Consumer rule configuration: per-App settings, per-template overrides, the sensitive-word
dictionary and per-account flow limits. Workers read them through a cache of a few seconds
(notify.rules.config), so an edit takes effect without a restart."""

from __future__ import annotations

import datetime

from django.db import models

__all__ = [
    "FlowCountBy",
    "FlowLimit",
    "NightMode",
    "RuleSettings",
    "SensitiveMode",
    "SensitiveWord",
    "TemplateRule",
]


class NightMode(models.TextChoices):
    NONE = "none", "Send at any hour"
    DROP = "drop", "Drop during quiet hours"
    DEFER = "defer", "Defer to the end of quiet hours"


class SensitiveMode(models.TextChoices):
    OFF = "off", "Do not check"
    MASK = "mask", "Mask sensitive words (***)"
    REJECT = "reject", "Reject the message"


class FlowCountBy(models.TextChoices):
    REQUESTS = "requests", "Provider requests"
    RECEIVERS = "receivers", "Receivers"


def _default_quiet_start() -> datetime.time:
    return datetime.time(22, 0)


def _default_quiet_end() -> datetime.time:
    return datetime.time(8, 0)


class RuleSettings(models.Model):
    """One row per App; an App without a row gets the defaults of these fields."""

    app = models.OneToOneField("notify.App", on_delete=models.CASCADE, related_name="rule_settings")
    discarded_channels = models.JSONField(
        default=list, blank=True, help_text='Channels switched off, e.g. ["sms"].'
    )
    whitelist_enabled = models.BooleanField(
        default=False,
        help_text="Outside production, only the whitelisted receivers get messages.",
    )
    whitelist = models.JSONField(default=list, blank=True, help_text="Receivers (addresses).")
    dedup_window_seconds = models.PositiveIntegerField(default=300)
    dedup_max = models.PositiveIntegerField(
        default=1, help_text="Same content, receiver and template at most this often per window."
    )
    frequency_cap = models.PositiveIntegerField(
        default=5, help_text="Messages per receiver per channel per day; 0 = no cap."
    )
    frequency_caps = models.JSONField(
        default=dict, blank=True, help_text='Per channel, e.g. {"sms": 3}; overrides the above.'
    )
    verification_frequency_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: verification codes are not capped."
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    quiet_start = models.TimeField(default=_default_quiet_start)
    quiet_end = models.TimeField(default=_default_quiet_end)
    night_mode = models.CharField(
        max_length=10,
        choices=NightMode.choices,
        default=NightMode.NONE,
        help_text="For templates that do not set their own.",
    )
    night_release_spread_seconds = models.PositiveIntegerField(
        default=300, help_text="Deferred messages are released over this many seconds."
    )
    sensitive_mode = models.CharField(
        max_length=10,
        choices=SensitiveMode.choices,
        default=SensitiveMode.MASK,
        help_text="For templates that do not set their own.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "rule settings"
        verbose_name_plural = "rule settings"

    def __str__(self) -> str:
        return f"rules of app {self.app_id}"


class TemplateRule(models.Model):
    """Per-template overrides; empty fields inherit from the App's RuleSettings."""

    template = models.OneToOneField(
        "templates_app.MessageTemplate", on_delete=models.CASCADE, related_name="rule"
    )
    discarded = models.BooleanField(default=False, help_text="Switched off by an operator.")
    night_mode = models.CharField(max_length=10, choices=NightMode.choices, blank=True, default="")
    sensitive_mode = models.CharField(
        max_length=10, choices=SensitiveMode.choices, blank=True, default=""
    )
    dedup_window_seconds = models.PositiveIntegerField(null=True, blank=True)
    dedup_max = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rules of template {self.template_id}"


class SensitiveWord(models.Model):
    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="sensitive_words")
    word = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "word"], name="uniq_sensitive_word_per_app")
        ]

    def __str__(self) -> str:
        return self.word


class FlowLimit(models.Model):
    """A token bucket per channel account, shared by every worker through Redis."""

    account = models.OneToOneField(
        "channels_app.ChannelAccount", on_delete=models.CASCADE, related_name="flow_limit"
    )
    rate_per_second = models.FloatField(help_text="Tokens added per second.")
    burst = models.PositiveIntegerField(default=1, help_text="Bucket size.")
    count_by = models.CharField(
        max_length=10, choices=FlowCountBy.choices, default=FlowCountBy.RECEIVERS
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.rate_per_second}/s for account {self.account_id}"
