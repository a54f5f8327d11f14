"""Admin pages for consumer rules, profiles and preferences. Workers pick up an edit within
TIDINGS_RULES_CACHE_SECONDS; no restart needed."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from notify.models import (
    DeadPushToken,
    FlowLimit,
    OptOut,
    RuleSettings,
    SensitiveWord,
    TemplateRule,
    UserProfile,
)
from notify.rules.config import rule_config_clear


class _ClearsRuleCache(admin.ModelAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        rule_config_clear()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        rule_config_clear()


@admin.register(RuleSettings)
class RuleSettingsAdmin(_ClearsRuleCache):
    list_display = ["app", "frequency_cap", "dedup_window_seconds", "night_mode", "time_zone"]
    list_select_related = ["app"]
    fieldsets = [
        (None, {"fields": ["app"]}),
        ("Discard and whitelist", {"fields": ["discarded_channels", "whitelist_enabled", "whitelist"]}),
        ("Sensitive words", {"fields": ["sensitive_mode"]}),
        ("Deduplication and caps", {"fields": [
            "dedup_window_seconds", "dedup_max", "frequency_cap", "frequency_caps",
            "verification_frequency_cap",
        ]}),
        ("Quiet hours", {"fields": [
            "time_zone", "quiet_start", "quiet_end", "night_mode", "night_release_spread_seconds",
        ]}),
    ]  # fmt: skip


@admin.register(TemplateRule)
class TemplateRuleAdmin(_ClearsRuleCache):
    list_display = ["template", "discarded", "night_mode", "sensitive_mode", "dedup_window_seconds"]
    list_filter = ["discarded", "night_mode", "sensitive_mode"]
    list_select_related = ["template"]
    raw_id_fields = ["template"]


@admin.register(SensitiveWord)
class SensitiveWordAdmin(_ClearsRuleCache):
    list_display = ["word", "app", "created_at"]
    list_filter = ["app"]
    search_fields = ["word"]


@admin.register(FlowLimit)
class FlowLimitAdmin(_ClearsRuleCache):
    list_display = ["account", "rate_per_second", "burst", "count_by", "enabled"]
    list_filter = ["enabled", "count_by"]
    list_select_related = ["account"]


class OptOutInline(admin.TabularInline):
    model = OptOut
    extra = 0
    fields = ["channel", "receiver", "message_type", "source", "created_at"]
    readonly_fields = ["created_at"]


class DeadPushTokenInline(admin.TabularInline):
    """Device tokens FCM/APNs declared dead while this profile held them: never sent to
    again until the app registers the token anew (deleting the row revives it too)."""

    model = DeadPushToken
    extra = 0
    fields = ["token", "provider", "reason", "created_at"]
    readonly_fields = ["token", "provider", "reason", "created_at"]


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["external_id", "app", "email", "phone", "time_zone", "locale", "updated_at"]
    list_filter = ["app"]
    search_fields = ["external_id", "email", "phone"]
    inlines = [OptOutInline, DeadPushTokenInline]


@admin.register(DeadPushToken)
class DeadPushTokenAdmin(admin.ModelAdmin):
    list_display = ["token", "app", "provider", "reason", "created_at"]
    list_filter = ["app", "provider"]
    search_fields = ["token"]
    raw_id_fields = ["profile"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["receiver", "channel", "message_type", "app", "source", "created_at"]
    list_filter = ["app", "channel", "message_type", "source"]
    search_fields = ["receiver"]
    raw_id_fields = ["profile"]
