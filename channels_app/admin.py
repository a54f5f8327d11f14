from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from rest_framework import serializers

from channels_app.breaker import breaker_health
from channels_app.models import ChannelAccount, InboxItem, SandboxDelivery
from channels_app.providers.egress import egress_url_problem
from channels_app.providers.registry import PROVIDERS, get_adapter_class, provider_choices
from channels_app.secrets import config_masked, config_unmask, url_mask, url_unmask
from channels_app.services import channel_account_breaker_reset, channel_account_send_test
from templates_app.models import MessageTemplate

CONFIG_PREFIX = "cfg_"


def masked_config(account: ChannelAccount) -> dict:
    # Secret fields, every header value and credentials in URLs (channels_app/secrets.py).
    return config_masked(account.provider, account.config or {})


def _form_field(field: serializers.Field, secret: bool) -> forms.Field:
    """A Django form field for one field of a provider's config serializer."""
    # "Reject receivers", not the form field name's "Cfg reject receivers".
    label = str(field.label or capfirst(field.field_name.replace("_", " ")))
    common: dict[str, Any] = {
        "required": field.required,
        "help_text": field.help_text or "",
        "label": label,
    }
    if secret:
        widget = forms.Textarea(attrs={"rows": 3}) if "key" in field.field_name else None
        common["help_text"] = "Secret: never shown. " + common["help_text"]
        return forms.CharField(widget=widget or forms.PasswordInput(), **common)
    if isinstance(field, serializers.BooleanField):
        return forms.BooleanField(required=False, help_text=common["help_text"], label=label)
    if isinstance(field, serializers.ChoiceField):
        return forms.ChoiceField(choices=[(str(k), v) for k, v in field.choices.items()], **common)
    if isinstance(field, serializers.IntegerField):
        return forms.IntegerField(min_value=field.min_value, max_value=field.max_value, **common)
    if isinstance(field, serializers.DictField | serializers.ListField | serializers.JSONField):
        return forms.JSONField(**common)
    if isinstance(field, serializers.EmailField):
        return forms.EmailField(**common)
    return forms.CharField(**common)


class ChannelAccountForm(forms.ModelForm):
    """The generic form: a provider and its config as JSON. Secrets show as ******** and
    are kept unless replaced. Provider forms (below) replace the JSON with typed fields."""

    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text=ChannelAccount._meta.get_field("base_url").help_text,
    )

    provider_name: str = ""
    provider = forms.ChoiceField(choices=())
    # initial={}: an empty add form shows "{}", not "null".
    config = forms.JSONField(
        required=False,
        initial=dict,
        help_text="Secrets show as ******** and are kept unless replaced.",
    )

    class Meta:
        model = ChannelAccount
        fields = [
            "app", "name", "channel", "provider", "base_url", "enabled", "weight", "type_weights",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields.pop("provider", None)  # read-only once saved (see the admin)
        if "provider" in self.fields:
            choices = provider_choices()
            if self.provider_name:
                choices = [c for c in choices if c[0] == self.provider_name]
                self.initial.setdefault("provider", self.provider_name)
            self.fields["provider"].choices = choices
        stored = self.instance.config if self.instance.pk else {}
        if self.instance.pk and self.instance.base_url:
            self.initial["base_url"] = url_mask(self.instance.base_url)
        if "config" in self.fields:
            if self.instance.pk:
                self.initial["config"] = masked_config(self.instance)
            return
        secret = set(get_adapter_class(self.provider_name).secret_fields)
        for name, field in self.fields.items():
            key = name.removeprefix(CONFIG_PREFIX)
            if not name.startswith(CONFIG_PREFIX):
                continue
            if key in secret:
                if stored.get(key):
                    field.required = False
                    field.help_text = "Stored; leave empty to keep it. " + field.help_text
            elif key in stored:
                self.initial[name] = config_masked(self.provider_name, {key: stored[key]})[key]

    def clean_base_url(self) -> str:
        # A masked URL sent back unchanged keeps the stored one; the result must pass the same
        # egress policy as the API (the allowlist is the environment's, not a form's).
        value = url_unmask(self.cleaned_data.get("base_url"), self.instance.base_url) or ""
        if value and (problem := egress_url_problem(value)):
            raise forms.ValidationError(problem)
        return value

    def _config_from_fields(self, cleaned: dict) -> dict:
        stored = self.instance.config if self.instance.pk else {}
        secret = set(get_adapter_class(self.provider_name).secret_fields)
        config = {}
        for name in self.fields:
            if not name.startswith(CONFIG_PREFIX):
                continue
            key, value = name.removeprefix(CONFIG_PREFIX), cleaned.get(name)
            if key in secret and not value:
                value = stored.get(key)
            if value is None or value == "":
                continue  # the serializer's default applies
            config[key] = value
        return config_unmask(self.provider_name, config, stored)

    def clean(self):
        cleaned = super().clean()
        provider = self.provider_name or cleaned.get("provider")
        channel = cleaned.get("channel")
        if not provider or not channel:
            return cleaned
        adapter = get_adapter_class(provider)
        if channel not in adapter.channels:
            raise ValidationError({"channel": f"provider {provider} does not send {channel}"})
        if self.provider_name:
            config = self._config_from_fields(cleaned)
        else:
            stored = self.instance.config if self.instance.pk else {}
            config = config_unmask(provider, dict(cleaned.get("config") or {}), stored)
        try:
            cleaned["config"] = adapter.validate_config(config)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"config": exc.detail}
            for key, problems in detail.items():
                name = f"{CONFIG_PREFIX}{key}"
                target = (
                    name if name in self.fields else ("config" if "config" in self.fields else None)
                )
                self.add_error(target, f"{key}: {json.dumps(problems, ensure_ascii=False)}")
        return cleaned

    def save(self, commit: bool = True):
        if "config" in self.cleaned_data:
            self.instance.config = self.cleaned_data["config"]
        if self.provider_name:
            self.instance.provider = self.provider_name
        return super().save(commit)


def provider_form(provider: str) -> type[ChannelAccountForm]:
    """A form class with the provider's config fields as real form fields."""
    adapter = get_adapter_class(provider)
    attrs: dict[str, Any] = {"provider_name": provider, "config": None}
    for name, field in adapter.config_serializer().fields.items():
        attrs[f"{CONFIG_PREFIX}{name}"] = _form_field(field, name in adapter.secret_fields)
    return type(f"{adapter.__name__}AccountForm", (ChannelAccountForm,), attrs)


class SendTestForm(forms.Form):
    receiver = forms.CharField(max_length=320, help_text="Where the test message goes.")
    content = forms.JSONField(help_text="Template content for this channel and provider.")
    variables = forms.JSONField(required=False, initial=dict)


def _sample_content(account: ChannelAccount) -> dict:
    template = (
        MessageTemplate.objects.filter(app_id=account.app_id, channel=account.channel)
        .order_by("-updated_at")
        .first()
    )
    if template is not None:
        return template.content
    return {
        "subject": "Tidings test",
        "title": "Tidings test",
        "text": "It works.",
        "body": "It works.",
    }


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = [
        "name", "app", "channel", "provider", "enabled", "weight", "breaker_state",
        "last_success_at", "short_last_error",
    ]  # fmt: skip
    list_filter = ["app", "channel", "provider", "enabled"]
    search_fields = ["name"]
    actions = ["send_test", "reset_breaker"]
    health_fields = [
        "breaker_state", "consecutive_failures", "last_success_at", "last_failure_at", "last_error",
    ]  # fmt: skip

    def _provider(self, request, obj) -> str:
        if obj is not None and obj.provider in PROVIDERS:
            return obj.provider
        # The add form posts back to its own URL, so ?provider= is there on POST too.
        wanted = request.GET.get("provider", "")
        return wanted if wanted in PROVIDERS else ""

    def get_form(self, request, obj=None, change=False, **kwargs):
        provider = self._provider(request, obj)
        if provider:
            kwargs["form"] = provider_form(provider)
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # The config fields belong to the provider: changing it means a new account.
        return [*self.health_fields, *(["provider"] if obj is not None else [])]

    def get_fields(self, request, obj=None):
        # A provider form declares `provider` and a saved account shows it read-only too:
        # list each field once.
        fields = list(dict.fromkeys(super().get_fields(request, obj)))
        return [f for f in fields if f not in self.health_fields] + (
            self.health_fields if obj is not None else []
        )

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if not self._provider(request, None):
            links = format_html_join(
                ", ",
                '<a href="?provider={}">{}</a>',
                ((name, label) for name, label in provider_choices()),
            )
            # Shown above the form by our change_form.html; not the `subtitle`, which also
            # goes into the page's <title> where markup shows as text.
            extra_context["provider_links"] = links
        return super().add_view(request, form_url, extra_context)

    @admin.display(description="breaker")
    def breaker_state(self, obj: ChannelAccount) -> str:
        health = breaker_health([obj])[obj.pk]
        if health.state == "open":
            return f"open ({health.retry_in:.0f}s)"
        return health.state

    @admin.display(description="last error")
    def short_last_error(self, obj: ChannelAccount) -> str:
        return obj.last_error[:80]

    @admin.action(description="Reset the circuit breaker")
    def reset_breaker(self, request, queryset):
        for account in queryset:
            channel_account_breaker_reset(account)
        self.message_user(request, f"Reset {queryset.count()} breaker(s).", messages.SUCCESS)

    @admin.action(description="Send a test message")
    def send_test(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one account to test.", messages.ERROR)
            return None
        account = queryset.get()
        if "apply" in request.POST:
            form = SendTestForm(request.POST)
            if form.is_valid():
                try:
                    message_id = channel_account_send_test(
                        account,
                        form.cleaned_data["receiver"],
                        form.cleaned_data["content"],
                        form.cleaned_data["variables"] or {},
                    )
                except serializers.ValidationError as exc:
                    form.add_error("content", json.dumps(exc.detail, ensure_ascii=False))
                except Exception as exc:  # noqa: BLE001 - shown to the operator as is
                    form.add_error(None, str(exc))
                else:
                    url = reverse("admin:tracking_message_changelist") + f"?q={message_id}"
                    self.message_user(
                        request,
                        format_html(
                            'Test message <a href="{}">{}</a> accepted via {}.',
                            url,
                            message_id,
                            account.name,
                        ),
                        messages.SUCCESS,
                    )
                    return None
        else:
            form = SendTestForm(initial={"content": _sample_content(account), "variables": {}})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Send a test message via {account.name}",
            "account": account,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/channels_app/send_test.html", context)


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ["created_at", "app", "user_id", "title", "read_at"]
    list_filter = ["app"]
    search_fields = ["user_id", "title"]
    readonly_fields = [
        "app",
        "user_id",
        "message",
        "title",
        "body",
        "data",
        "created_at",
        "read_at",
    ]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False


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
