import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from rest_framework import serializers

from channels_app.models import ChannelAccount, SandboxDelivery
from channels_app.providers.registry import get_adapter_class, provider_choices

MASK = "********"


def masked_config(account: ChannelAccount) -> dict:
    secret = set(get_adapter_class(account.provider).secret_fields) if account.provider else set()
    return {
        key: (MASK if key in secret and value else value)
        for key, value in (account.config or {}).items()
    }


class ChannelAccountForm(forms.ModelForm):
    """Credentials are shown masked; a masked value left as it is keeps the stored secret."""

    provider = forms.ChoiceField(choices=())
    config = forms.JSONField(
        required=False, help_text="Secrets show as ******** and are kept unless replaced."
    )

    class Meta:
        model = ChannelAccount
        fields = ["app", "name", "channel", "provider", "config", "base_url", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = provider_choices()
        if self.instance.pk:
            self.initial["config"] = masked_config(self.instance)

    def clean(self):
        cleaned = super().clean()
        provider, channel = cleaned.get("provider"), cleaned.get("channel")
        if not provider or not channel:
            return cleaned
        adapter = get_adapter_class(provider)
        if channel not in adapter.channels:
            raise ValidationError({"channel": f"provider {provider} does not send {channel}"})
        config = dict(cleaned.get("config") or {})
        stored = self.instance.config if self.instance.pk else {}
        for key, value in list(config.items()):
            if value == MASK:
                config[key] = stored.get(key, "")
        try:
            cleaned["config"] = adapter.validate_config(config)
        except serializers.ValidationError as exc:
            raise ValidationError({"config": json.dumps(exc.detail)}) from None
        return cleaned


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = ["name", "app", "channel", "provider", "enabled", "updated_at"]
    list_filter = ["app", "channel", "provider", "enabled"]
    search_fields = ["name"]


@admin.register(SandboxDelivery)
class SandboxDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "receiver", "message_id", "account", "provider_message_id"]
    list_filter = ["account"]
    search_fields = ["receiver", "message_id"]
    readonly_fields = [
        "account",
        "message_id",
        "receiver",
        "content",
        "provider_message_id",
        "created_at",
    ]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False
