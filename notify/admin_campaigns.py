"""Admin pages for campaigns (live progress bar, status actions, four-eyes approval), user
groups, held API sends and the approval audit."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from notify.actors import Actor
from notify.campaigns import selectors, services

# Imported here so every process that loads the admin (web and worker: Django's setup runs
# admin autodiscovery) registers the campaign tasks, which celery's autodiscovery misses.
from notify.campaigns import tasks as _campaign_tasks  # noqa: F401
from notify.errors import ApiError
from notify.holds import held_send_decide
from notify.models import (
    ApprovalRecord,
    Campaign,
    CampaignRun,
    CampaignStatus,
    HeldSend,
    ScheduleKind,
    UserGroup,
    UserGroupMember,
)


def _run_action(modeladmin, request, queryset, action: str, call) -> None:
    done = 0
    for obj in queryset:
        try:
            call(obj)
            done += 1
        except ApiError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{action}: {done} done", messages.SUCCESS)


class CampaignForm(forms.ModelForm):
    audience_upload = forms.FileField(
        required=False, help_text="Crowd CSV: a 'receiver' (or 'userId') column and one column per template variable."
    )  # fmt: skip

    class Meta:
        model = Campaign
        fields = ["app", "name", "template", "priority", "variables", "audience_kind",
                  "audience_group", "audience_topic", "audience_list", "schedule_kind", "send_at", "cron",
                  "cron_timezone"]  # fmt: skip

    def clean(self):
        data = super().clean()
        kind = data.get("schedule_kind")
        if kind == ScheduleKind.CRON:
            try:
                data["cron"] = services.cron_validate(data.get("cron"))
            except ApiError as exc:
                self.add_error("cron", str(exc.detail))
        if kind == ScheduleKind.AT and not data.get("send_at"):
            self.add_error("send_at", "required for a campaign at a time")
        template, app = data.get("template"), data.get("app")
        if template and app and template.app_id != app.pk:
            self.add_error("template", "belongs to another App")
        group = data.get("audience_group")
        if group and app and group.app_id != app.pk:
            self.add_error("audience_group", "belongs to another App")
        topic = data.get("audience_topic")
        if topic and app and topic.app_id != app.pk:
            self.add_error("audience_topic", "belongs to another App")
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/notify/campaign/change_form.html"
    list_display = [
        "name",
        "app",
        "status",
        "progress_bar",
        "schedule_kind",
        "priority",
        "updated_at",
    ]
    list_filter = ["status", "app", "schedule_kind"]
    search_fields = ["name"]
    list_select_related = ["app"]
    readonly_fields = ["status", "progress_bar", "audience_file_summary", "periodic_task",
                       "submitted", "created_by", "last_error"]  # fmt: skip
    actions = ["submit", "approve", "reject", "start", "pause", "resume", "cancel"]

    # Nothing is left to change once a campaign is over: schedule and priority go read-only.
    FINISHED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED, CampaignStatus.FAILED)

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.status != "draft":
            editable = (
                ()
                if obj.status in self.FINISHED
                else ("send_at", "cron", "cron_timezone", "priority")
            )
            fields += [f for f in CampaignForm.Meta.fields if f not in editable]
        if obj is None or obj.status == CampaignStatus.DRAFT:
            fields.remove("submitted")  # nothing to show before it is submitted
        return fields

    @admin.display(description="Submitted by")
    def submitted(self, obj: Campaign) -> str:
        """Who submitted it: a staff user or the App whose key called the API (the
        `submitted_by` user column is empty for API submissions, hence not that)."""
        record = (
            ApprovalRecord.objects.filter(campaign=obj, action=ApprovalRecord.Action.SUBMITTED)
            .order_by("-at", "-id")
            .first()
        )
        if record is None:
            return "not submitted (started directly)"
        return f"{record.actor}, {record.at:%Y-%m-%d %H:%M:%S %Z}"

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and obj.status != "draft":
            # The crowd file is fixed once the campaign left draft (its summary stays).
            fields = [f for f in fields if f != "audience_upload"]
        return fields

    def has_change_permission(self, request, obj=None):
        # A finished campaign's page is read-only: no Save buttons.
        if obj is not None and obj.status in self.FINISHED:
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status != "draft":
            # Replaces the admin's own exclude list, which holds the read-only fields.
            kwargs["exclude"] = ["audience_upload", *self.get_readonly_fields(request, obj)]
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        if change and obj.status != "draft":
            fields = {k: form.cleaned_data[k] for k in ("priority",) if k in form.cleaned_data}
            if obj.schedule_kind != ScheduleKind.NOW and "cron" in form.cleaned_data:
                fields.update(schedule=obj.schedule_kind, send_at=form.cleaned_data.get("send_at"),
                              cron=form.cleaned_data.get("cron"), timezone=form.cleaned_data.get("cron_timezone"))  # fmt: skip
            services.campaign_update(obj, **fields)
            return
        super().save_model(request, obj, form, change)
        upload = form.cleaned_data.get("audience_upload")
        if upload:
            try:
                services.campaign_audience_upload(obj, upload, upload.name)
            except ApiError as exc:
                self.message_user(request, f"audience file rejected: {exc.detail}", messages.ERROR)

    @admin.display(description="Progress")
    def progress_bar(self, obj: Campaign):
        progress = selectors.campaign_progress(obj)
        return format_html(
            '<div class="tidings-progress" data-url="{}"><progress max="100" value="{}"></progress> '
            "<span>{}% · {} / {} rows · accepted {} · sent {} · delivered {} · failed {}</span></div>",
            reverse("admin:notify_campaign_progress", args=[obj.pk]) if obj.pk else "",
            progress["percent"], progress["percent"], progress["processed"], progress["total"],
            progress["accepted"], progress["sent"], progress["delivered"], progress["failed"],
        )  # fmt: skip

    @admin.display(description="Audience file")
    def audience_file_summary(self, obj: Campaign):
        f = obj.audience_file
        if f is None:
            return "-"
        return f"{f.original_name}: {f.rows} rows, {f.invalid_rows} invalid ({f.receiver_column!r} column)"

    def get_urls(self):
        progress = self.admin_site.admin_view(self.progress_view)
        return [
            path("<int:pk>/progress/", progress, name="notify_campaign_progress"),
            *super().get_urls(),
        ]

    def progress_view(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        body = selectors.campaign_progress(campaign)
        return JsonResponse(
            {
                "status": campaign.get_status_display(),
                **{k: v for k, v in body.items() if k not in ("problems",)},
            }
        )

    @admin.action(description="Submit for approval")
    def submit(self, request, queryset):
        _run_action(
            self,
            request,
            queryset,
            "submit",
            lambda c: services.campaign_submit(c, Actor(user=request.user)),
        )

    @admin.action(description="Approve (four-eyes: not your own)")
    def approve(self, request, queryset):
        _run_action(
            self,
            request,
            queryset,
            "approve",
            lambda c: services.campaign_decide(c, Actor(user=request.user), True),
        )

    @admin.action(description="Reject (back to draft)")
    def reject(self, request, queryset):
        _run_action(
            self,
            request,
            queryset,
            "reject",
            lambda c: services.campaign_decide(c, Actor(user=request.user), False),
        )

    @admin.action(description="Start / schedule")
    def start(self, request, queryset):
        _run_action(self, request, queryset, "start", services.campaign_start)

    @admin.action(description="Pause")
    def pause(self, request, queryset):
        _run_action(self, request, queryset, "pause", services.campaign_pause)

    @admin.action(description="Resume")
    def resume(self, request, queryset):
        _run_action(self, request, queryset, "resume", services.campaign_resume)

    @admin.action(description="Cancel")
    def cancel(self, request, queryset):
        _run_action(self, request, queryset, "cancel", services.campaign_cancel)


@admin.register(CampaignRun)
class CampaignRunAdmin(admin.ModelAdmin):
    list_display = [
        "campaign",
        "number",
        "status",
        "rows_done",
        "total",
        "accepted",
        "rejected",
        "batches_done",
        "heartbeat_at",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in CampaignRun._meta.fields]

    def has_add_permission(self, request):
        return False


class MemberInline(admin.TabularInline):
    model = UserGroupMember
    extra = 3
    fields = ["user_id", "added_at"]
    readonly_fields = ["added_at"]


@admin.register(UserGroup)
class UserGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "app", "created_at"]
    list_filter = ["app"]
    search_fields = ["name", "members__user_id"]
    inlines = [MemberInline]


@admin.register(HeldSend)
class HeldSendAdmin(admin.ModelAdmin):
    list_display = ["request", "status", "approval", "receivers", "release_at", "created_at"]
    list_filter = ["status", "approval"]
    readonly_fields = [f.name for f in HeldSend._meta.fields]
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Approve the send (four-eyes)")
    def approve(self, request, queryset):
        _run_action(
            self,
            request,
            queryset,
            "approve",
            lambda h: held_send_decide(h.pk, Actor(user=request.user), True),
        )

    @admin.action(description="Reject the send (its messages are cancelled)")
    def reject(self, request, queryset):
        _run_action(
            self,
            request,
            queryset,
            "reject",
            lambda h: held_send_decide(h.pk, Actor(user=request.user), False),
        )


@admin.register(ApprovalRecord)
class ApprovalRecordAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "actor", "campaign", "held_send", "note"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in ApprovalRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
