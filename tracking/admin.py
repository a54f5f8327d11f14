from django import forms
from django.contrib import admin
from django.db import models
from django.utils import timezone

from channels_app.secrets import url_mask, url_unmask
from tracking.models import (
    CallbackDelivery,
    CallbackEndpoint,
    CallbackOutbox,
    DailyStat,
    Message,
    MessageEvent,
)


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    fields = ["at", "state", "detail"]
    readonly_fields = fields
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "message_id",
        "receiver",
        "template",
        "channel",
        "priority",
        "state",
        "attempts",
        "created_at",
    ]
    list_filter = ["state", "channel", "priority", "app"]
    search_fields = ["=message_id", "receiver", "biz_id", "provider_message_id"]
    list_select_related = ["template"]
    date_hierarchy = "created_at"
    inlines = [MessageEventInline]
    show_full_result_count = False
    raw_id_fields = ["resent_from"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CallbackEndpointForm(forms.ModelForm):
    """The URL shows its credentials masked; sent back unchanged, the stored one stays."""

    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = CallbackEndpoint
        fields = ["app", "url", "states", "enabled"]  # not the secret: write-only

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = url_mask(self.instance.url)

    def clean_url(self) -> str:
        return url_unmask(self.cleaned_data.get("url"), self.instance.url)


@admin.register(CallbackEndpoint)
class CallbackEndpointAdmin(admin.ModelAdmin):
    form = CallbackEndpointForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["app", "masked_url", "enabled", "updated_at"]
    list_filter = ["enabled"]
    exclude = ["secret"]

    @admin.display(description="url")
    def masked_url(self, obj: CallbackEndpoint) -> str:
        return url_mask(obj.url)

    readonly_fields = ["created_at", "updated_at"]

    def has_add_permission(self, request):
        return False  # Apps register their URL and secret through PUT /api/v1/callback


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(admin.ModelAdmin):
    """The status-callback delivery log."""

    list_display = [
        "at",
        "app",
        "masked_url",
        "events",
        "ok",
        "status_code",
        "duration_ms",
        "error",
    ]

    @admin.display(description="url")
    def masked_url(self, obj: CallbackDelivery) -> str:
        return url_mask(obj.url)

    list_filter = ["ok", "app"]
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CallbackOutbox)
class CallbackOutboxAdmin(admin.ModelAdmin):
    list_display = ["id", "app", "message", "state", "at", "attempts", "next_attempt_at", "dead"]
    list_filter = ["dead", "state", "app"]
    raw_id_fields = ["message"]
    actions = ["retry_now"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry now (also revives dead events)")
    def retry_now(self, request, queryset):
        count = queryset.update(dead=False, next_attempt_at=timezone.now())
        self.message_user(request, f"{count} event(s) will be posted on the next drain.")


@admin.register(DailyStat)
class DailyStatAdmin(admin.ModelAdmin):
    list_display = ["day", "app", "template", "channel", "priority", "state", "count"]
    list_filter = ["state", "channel", "priority", "app"]
    date_hierarchy = "day"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
