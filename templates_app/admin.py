"""The template admin: channel as a select, account as a select of the App's accounts,
content as pretty-printed, validated JSON, a preview with sample variables, "send a test"
to a whitelisted receiver, and the review workflow (submit / approve by somebody else)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from channels_app.models import ChannelAccount
from channels_app.providers.registry import channel_choices
from notify.errors import ApiError
from notify.models import RuleSettings
from notify.pipeline import Item, SendContext, message_send
from templates_app.checks import content_problems, provider_problems, routed_providers
from templates_app.locales import locales_problems
from templates_app.models import MessageTemplate, TemplateStatus, TemplateVersion
from templates_app.preview import template_preview
from templates_app.rendering import placeholders
from templates_app.review import (
    ReviewError,
    actor_of,
    pending_version,
    version_approve,
    version_reject,
    version_submit,
)
from tracking.models import Message


class PrettyJSONField(forms.JSONField):
    """JSON shown indented (CJK as is, not \\u escapes) and checked when saved."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 14, "cols": 90,
                                                          "class": "tidings-json",
                                                          "spellcheck": "false"}))  # fmt: skip
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class MessageTemplateForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=channel_choices)
    content = PrettyJSONField(
        help_text='The channel\'s content with {$name} placeholders, e.g. {"subject": "Hi '
        '{$name}", "text": "..."}'
    )
    locales = PrettyJSONField(
        required=False,
        help_text='Content per BCP 47 language tag, each like `content`, e.g. {"zh-CN": '
        '{"subject": "你好 {$name}", "text": "..."}, "en": {...}}; receivers whose locale '
        "matches none (en-GB tries en-GB, then en) get `content`.",
    )

    class Meta:
        model = MessageTemplate
        fields = [
            "app", "name", "code", "austin_id", "channel", "message_type", "receiver_type",
            "content", "locales", "default_priority", "channel_account", "status",
            "track_clicks",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        accounts = ChannelAccount.objects.order_by("app__name", "channel", "name")
        if self.instance.pk:
            accounts = accounts.filter(app_id=self.instance.app_id)
        field = self.fields["channel_account"]
        field.queryset = accounts.select_related("app")
        field.label_from_instance = lambda a: f"{a.name} ({a.channel}, {a.provider}, {a.app})"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channel, content = data.get("channel"), data.get("content")
        account, app = data.get("channel_account"), data.get("app")
        if account is not None and channel and account.channel != channel:
            self.add_error("channel_account", f"{account.name} is a {account.channel} account")
        if channel and content is not None and "content" not in self.errors:
            problems = content_problems(channel, content)
            if not problems and app is not None:
                providers = routed_providers(app, channel, account)
                problems = provider_problems(providers, channel, content)
            for field, found in problems.items():
                self.add_error("content", [f"{field}: {p}" for p in found])
        self._clean_locales(data)
        status = data.get("status")
        if (
            app is not None
            and app.require_template_review
            and status == TemplateStatus.ACTIVE
            and self.instance.status != TemplateStatus.ACTIVE
            and not (self.instance.pk and self.instance.status == TemplateStatus.DISABLED)
        ):
            self.add_error(
                "status", "this App reviews templates: submit it, then another person approves it"
            )
        return data

    def _clean_locales(self, data: dict[str, Any]) -> None:
        channel, app = data.get("channel"), data.get("app")
        if not channel or "locales" in self.errors:
            return
        providers = routed_providers(app, channel, data.get("channel_account")) if app else []
        cleaned, problems = locales_problems(channel, data.get("locales") or {}, providers)
        for field, found in problems.items():
            self.add_error("locales", [f"{field}: {p}" for p in found])
        if problems:
            return
        data["locales"] = cleaned
        if (
            app is not None
            and app.require_template_review
            and self.instance.pk
            and data.get("status") != TemplateStatus.DRAFT
            and cleaned != (self.instance.locales or {})
        ):
            self.add_error(
                "locales", "this App reviews templates: change locales on a draft, then submit it"
            )


class TemplateVersionInline(admin.TabularInline):
    """The review audit: every submitted content, who submitted and who reviewed it."""

    model = TemplateVersion
    extra = 0
    fields = ["number", "status", "submitted_by", "submitted_at", "reviewed_by", "reviewed_at",
              "note", "content"]  # fmt: skip
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Review history (versions)"

    def has_add_permission(self, request, obj=None):
        return False


def sample_variables(template: MessageTemplate) -> dict[str, str]:
    return {name: f"<{name}>" for name in sorted(placeholders(template.content))}


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = [
        "code",
        "name",
        "app",
        "channel",
        "message_type",
        "default_priority",
        "status",
        "austin_id",
        "updated_at",
    ]
    list_filter = ["app", "channel", "message_type", "status", "default_priority"]
    search_fields = ["code", "name"]
    readonly_fields = ["preview", "review"]
    inlines = [TemplateVersionInline]
    actions = ["submit_for_review", "approve_pending", "reject_pending"]

    @admin.display(description="Preview")
    def preview(self, obj: MessageTemplate) -> SafeString | str:
        """The saved content rendered with sample variables, and what a send would hit."""
        if not obj.pk:
            return "Save the template to preview it."
        result = template_preview(obj, sample_variables(obj))
        rendered = json.dumps(result["rendered"], indent=2, ensure_ascii=False)
        problems = format_html_join(
            "",
            "<li><code>{}</code>: {}</li>",
            ((p["field"], p["problem"]) for p in result["problems"]),
        )
        test_url = reverse("admin:templates_app_messagetemplate_test_send", args=[obj.pk])
        return format_html(
            "<div class='tidings-preview'><p>Sample variables: <code>{}</code> · routed to: {}</p>"
            "<pre class='tidings-rendered'>{}</pre>{}"
            "<p><a class='button' href='{}'>Send a test…</a></p></div>",
            json.dumps(sample_variables(obj), ensure_ascii=False),
            ", ".join(result["providers"]) or "no account yet",
            rendered,
            format_html("<ul class='errorlist tidings-problems'>{}</ul>", problems)
            if result["problems"]
            else format_html("<p class='tidings-ok'>{}</p>", "No problems found."),
            test_url,
        )

    @admin.display(description="Review")
    def review(self, obj: MessageTemplate) -> SafeString | str:
        if not obj.pk:
            return "-"
        if not obj.app.require_template_review:
            return "This App does not review templates (App: require template review)."
        version = pending_version(obj)
        if version is None:
            return f"Status {obj.get_status_display()}; nothing waiting for review."
        # The pending content, previewed like the saved one, so the reviewer sees both.
        result = template_preview(obj, sample_variables(obj), version.content)
        return format_html(
            "<p>Version {} waits for review (submitted by {}); the template keeps sending its "
            "approved content until somebody else approves it (action: Approve the pending "
            "version).</p><pre class='tidings-pending'>{}</pre>{}",
            version.number,
            version.submitted_by,
            json.dumps(result["rendered"], indent=2, ensure_ascii=False),
            format_html_join(
                "",
                "<p class='errornote'>{}: {}</p>",
                ((p["field"], p["problem"]) for p in result["problems"]),
            ),
        )

    def save_model(self, request: HttpRequest, obj: MessageTemplate, form, change: bool) -> None:
        if not obj.app.require_template_review:
            super().save_model(request, obj, form, change)
            return
        if not change:
            obj.status = TemplateStatus.DRAFT
            super().save_model(request, obj, form, change)
            return
        saved = MessageTemplate.objects.get(pk=obj.pk)
        if saved.status == TemplateStatus.ACTIVE and obj.content != saved.content:
            new_content, obj.content = obj.content, saved.content
            super().save_model(request, obj, form, change)
            version = version_submit(obj, actor_of(request), new_content)
            self.message_user(
                request,
                f"The content change is version {version.number}, waiting for review; the "
                "approved content keeps sending until then.",
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)

    def _review(self, request, queryset, operation, done: str) -> None:
        for template in queryset:
            try:
                operation(template)
            except ReviewError as error:
                self.message_user(request, f"{template.code}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{template.code}: {done}")

    @admin.action(description="Submit for review")
    def submit_for_review(self, request, queryset):
        self._review(request, queryset, lambda t: version_submit(t, actor_of(request)), "submitted")

    @admin.action(description="Approve the pending version (four-eyes)")
    def approve_pending(self, request, queryset):
        self._review(request, queryset, lambda t: version_approve(t, actor_of(request)), "approved")

    @admin.action(description="Reject the pending version")
    def reject_pending(self, request, queryset):
        self._review(request, queryset, lambda t: version_reject(t, actor_of(request)), "rejected")

    def get_urls(self):
        return [
            path(
                "<int:pk>/test-send/",
                self.admin_site.admin_view(self.test_send_view),
                name="templates_app_messagetemplate_test_send",
            ),
            *super().get_urls(),
        ]

    def test_send_view(self, request: HttpRequest, pk: int):
        """Send the template to one of the App's whitelisted receivers (RuleSettings)."""
        template = get_object_or_404(MessageTemplate, pk=pk)
        if not self.has_change_permission(request, template):
            return HttpResponseRedirect(reverse("admin:index"))
        rules = RuleSettings.objects.filter(app_id=template.app_id).first()
        whitelist = [str(r) for r in (rules.whitelist if rules else [])]
        error = ""
        variables_text = json.dumps(sample_variables(template), indent=2, ensure_ascii=False)
        if request.method == "POST":
            receiver = request.POST.get("receiver", "")
            variables_text = request.POST.get("variables", "") or "{}"
            try:
                variables = json.loads(variables_text)
            except ValueError as exc:
                variables = None
                error = f"variables: not JSON ({exc})"
            if receiver not in whitelist:
                error = "receiver: pick one of the App's whitelisted receivers"
            elif not isinstance(variables, dict):
                error = error or "variables: must be a JSON object"
            elif template.status != TemplateStatus.ACTIVE:
                error = "only an active (approved) template sends; preview it instead"
            else:
                try:
                    answer = message_send(
                        SendContext(
                            app=template.app,
                            template_ref=template.pk,
                            items=[Item(receiver, variables, "admin-test", 0)],
                        )
                    )
                except ApiError as exc:
                    error = str(exc.detail)
                else:
                    sent = answer.body["messages"][0]["message_id"]
                    message = Message.objects.get(message_id=sent)
                    self.message_user(request, f"Test message {sent} accepted for {receiver}.")
                    return HttpResponseRedirect(
                        reverse("admin:tracking_message_change", args=[message.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Send a test of {template.code}",
            "opts": self.model._meta,
            "original": template,
            "whitelist": whitelist,
            "variables_text": variables_text,
            "error": error,
            "rules_url": reverse("admin:notify_rulesettings_changelist"),
        }
        return TemplateResponse(
            request, "admin/templates_app/messagetemplate/test_send.html", context
        )
