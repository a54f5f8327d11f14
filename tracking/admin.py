import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from channels_app.secrets import url_mask, url_unmask
from notify.models import App
from tracking.models import (
    CallbackDelivery,
    CallbackEndpoint,
    CallbackOutbox,
    DailyStat,
    Message,
    MessageState,
    ReplayAudit,
)
from tracking.replay import ReplayFilter, failure_groups, messages_replay

# Worker plumbing: which claim owns the row and until when. Not an operator's business.
_INTERNAL_FIELDS = {"lease_expires_at", "claim_token"}


def ms(at: datetime | None) -> str:
    """A time to the millisecond, in the admin's time zone."""
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if at else "-"


def staff_actor(request: HttpRequest) -> str:
    return f"staff {request.user.get_username()}"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    change_list_template = "admin/tracking/message/change_list.html"
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
    show_full_result_count = False
    actions = ["replay_selected"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        names = [f.name for f in Message._meta.fields if f.name not in _INTERNAL_FIELDS]
        times = {"created_at", "updated_at", "queued_at", "sent_at", "expires_at",
                 "next_attempt_at"}  # fmt: skip
        pretty = {"variables", "content"}
        return (
            "trace",
            *[f"{n}_ms" if n in times else f"{n}_json" if n in pretty else n for n in names],
        )

    @admin.display(description="Variables")
    def variables_json(self, obj: Message) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.variables, indent=2, ensure_ascii=False))

    @admin.display(description="Content")
    def content_json(self, obj: Message) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.content, indent=2, ensure_ascii=False))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.get_fields(request, obj)

    @admin.display(description="Trace")
    def trace(self, obj: Message) -> SafeString:
        """Each step to the millisecond, with the time since the step before and since
        the message was accepted."""
        events = obj.trace_events()
        if not events:
            return mark_safe("-")  # noqa: S308 - a constant
        start, rows, previous = events[0].at, [], None
        for event in events:
            step = f"+{(event.at - previous).total_seconds() * 1000:.0f} ms" if previous else ""
            total = f"{(event.at - start).total_seconds() * 1000:.0f} ms"
            rows.append((ms(event.at), event.state, step, total, event.detail))
            previous = event.at
        body = format_html_join(
            "",
            "<tr><td class='trace-at'>{}</td><td>{}</td><td class='trace-step'>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            rows,
        )
        return format_html(
            "<table class='tidings-trace'><thead><tr><th>at</th><th>state</th>"
            "<th>since previous step</th><th>since first step</th><th>detail</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            body,
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Messages are the record of what was sent: retention removes them, nobody else.
        return False

    @admin.action(description="Replay selected (resend each once, linked to it)")
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        by_app: dict[int, list[str]] = {}
        for app_id, message_id in queryset.values_list("app_id", "message_id"):
            by_app.setdefault(app_id, []).append(str(message_id))
        resent = skipped = 0
        for app in App.objects.filter(pk__in=by_app):
            audit = messages_replay(
                app, ReplayFilter(state="", message_ids=by_app[app.pk]), actor=staff_actor(request)
            )
            resent, skipped = resent + audit.resent, skipped + audit.skipped
        self.message_user(
            request,
            f"{resent} message(s) resent; {skipped} skipped (resent before or still in flight).",
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "failed/",
                self.admin_site.admin_view(self.failed_view),
                name="tracking_message_failed",
            ),
            *super().get_urls(),
        ]

    def failed_view(self, request: HttpRequest) -> HttpResponseBase:
        """Dead letters: FAILED messages not resent yet, grouped by reason, each group
        with a "replay these" button (POST)."""
        if request.method == "POST":
            if not self.has_view_permission(request):
                return HttpResponseRedirect(reverse("admin:index"))
            kind, key = request.POST.get("kind", ""), request.POST.get("key", "")
            app = App.objects.filter(pk=request.POST.get("app_id") or 0).first()
            if app is None or kind not in ("error_code", "reason") or not key:
                self.message_user(request, "Nothing to replay.", messages.WARNING)
            else:
                which = (
                    ReplayFilter(error_code=key)
                    if kind == "error_code"
                    else ReplayFilter(reason=key)
                )
                audit = messages_replay(app, which, actor=staff_actor(request))
                self.message_user(request, f"Replay #{audit.pk}: {audit.resent} message(s) resent.")
            return HttpResponseRedirect(reverse("admin:tracking_message_failed"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Failed messages",
            "opts": self.model._meta,
            "groups": failure_groups(),
            "replays": ReplayAudit.objects.select_related("app")[:10],
            "failed_url": reverse("admin:tracking_message_changelist")
            + f"?state__exact={MessageState.FAILED}",
        }
        return TemplateResponse(request, "admin/tracking/message/failed.html", context)


@admin.register(ReplayAudit)
class ReplayAuditAdmin(admin.ModelAdmin):
    list_display = ["id", "at_ms", "app", "actor", "dry_run", "matched", "resent", "skipped"]
    list_filter = ["dry_run", "app"]
    readonly_fields = ["app", "actor", "at", "filter", "dry_run", "matched", "resent", "skipped"]
    date_hierarchy = "at"

    @admin.display(description="at", ordering="at")
    def at_ms(self, obj: ReplayAudit) -> str:
        return ms(obj.at)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _ms_field(name: str) -> Callable[[Any, Message], str]:
    @admin.display(description=Message._meta.get_field(name).verbose_name)  # type: ignore[union-attr]  # a concrete field
    def show(self: Any, obj: Message) -> str:
        return ms(getattr(obj, name))

    return show


for _name in ("created_at", "updated_at", "queued_at", "sent_at", "expires_at", "next_attempt_at"):
    setattr(MessageAdmin, f"{_name}_ms", _ms_field(_name))


class CallbackEndpointForm(forms.ModelForm):
    """The URL shows its credentials masked; sent back unchanged, the stored one stays."""

    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = CallbackEndpoint
        fields = ["app", "url", "states", "enabled"]  # not the secret: write-only

    def __init__(self, *args: Any, **kwargs: Any) -> None:
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

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallbackOutbox)
class CallbackOutboxAdmin(admin.ModelAdmin):
    list_display = ["id", "app", "message", "state", "at", "attempts", "next_attempt_at", "dead"]
    list_filter = ["dead", "state", "app"]
    raw_id_fields = ["message"]
    actions = ["retry_now"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Retry now (also revives dead events)")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[CallbackOutbox]) -> None:
        count = queryset.update(dead=False, next_attempt_at=timezone.now())
        self.message_user(request, f"{count} event(s) will be posted on the next drain.")


@admin.register(DailyStat)
class DailyStatAdmin(admin.ModelAdmin):
    list_display = ["day", "app", "template", "channel", "priority", "state", "count"]
    list_filter = ["state", "channel", "priority", "app"]
    date_hierarchy = "day"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
