"""Writes for campaigns and user groups: create, audience, status actions, beat entries.

Status flow: draft -> pending_approval -> approved -> scheduled -> running -> paused ->
completed / cancelled / failed. Every action checks the status under a row lock and answers
409 when it does not fit.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from celery.schedules import crontab
from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from notify.actors import Actor
from notify.campaigns.crowd import CrowdFileError, crowd_scan
from notify.campaigns.runs import (
    audience_size,
    periodic_task_remove,
    periodic_task_sync,
    run_create,
    run_enqueue,
)
from notify.campaigns.selectors import campaign_message_ids
from notify.errors import ApiError, invalid
from notify.holds import approval_needed
from notify.models import (
    App,
    ApprovalRecord,
    AudienceKind,
    Campaign,
    CampaignAudienceFile,
    CampaignRun,
    CampaignStatus,
    RunStatus,
    ScheduleKind,
    UserGroup,
    UserGroupMember,
)
from notify.topics import topic_find
from templates_app.models import MessageTemplate, TemplateStatus
from templates_app.receivers import receiver_problem
from templates_app.rendering import placeholders
from templates_app.selectors import template_find
from tracking.models import Message, MessageState
from tracking.services import EventRow, events_record

S = CampaignStatus
EDITABLE = (S.DRAFT,)
# Statuses in which only the schedule and priority may change (the beat entry follows).
RESCHEDULABLE = (S.APPROVED, S.SCHEDULED, S.PAUSED)
FINAL = (S.COMPLETED, S.CANCELLED, S.FAILED)


def conflict(campaign: Campaign, action: str) -> ApiError:
    return ApiError(
        f"cannot {action} a campaign that is {campaign.status}",
        code="invalid_status",
        status_code=409,
        fields={"status": [campaign.status]},
    )


# --- user groups ----------------------------------------------------------------------------


def user_group_create(
    app: App, name: str, description: str = "", user_ids: Iterable[str] = ()
) -> UserGroup:
    try:
        with transaction.atomic():
            group = UserGroup.objects.create(app=app, name=name, description=description)
            user_group_members_change(group, add=user_ids)
    except IntegrityError:
        raise invalid("name", f"a group named {name!r} exists") from None
    return group


def user_group_members_change(
    group: UserGroup, *, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> int:
    """Add and remove members (ids are trimmed, duplicates ignored); returns the member count."""
    add_ids = _user_ids(add, "add")
    remove_ids = _user_ids(remove, "remove")
    with transaction.atomic():
        if remove_ids:
            UserGroupMember.objects.filter(group=group, user_id__in=remove_ids).delete()
        if add_ids:
            UserGroupMember.objects.bulk_create(
                [UserGroupMember(group=group, user_id=uid) for uid in add_ids],
                ignore_conflicts=True,
                batch_size=5000,
            )
    return UserGroupMember.objects.filter(group=group).count()


def _user_ids(values: Iterable[str], field: str) -> list[str]:
    ids: dict[str, None] = {}
    for index, value in enumerate(values):
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise invalid(f"{field}[{index}]", "must be a user id string")
        text = str(value).strip()
        if not text or len(text) > 128 or any(ch.isspace() for ch in text):
            raise invalid(f"{field}[{index}]", "a user id: 1-128 characters, no white space")
        ids[text] = None
    return list(ids)


def user_group_delete(group: UserGroup) -> None:
    if Campaign.objects.filter(audience_group=group).exclude(status__in=FINAL).exists():
        raise ApiError(
            "the group is the audience of an active campaign",
            code="in_use",
            status_code=409,
        )
    Campaign.objects.filter(audience_group=group).update(audience_group=None)
    group.delete()


# --- campaigns: create / edit -----------------------------------------------------------------


def campaign_create(app: App, actor: Actor, **fields: Any) -> Campaign:
    campaign = Campaign(app=app, created_by=actor.user)
    _apply(campaign, fields, creating=True)
    campaign.save()
    return campaign


def campaign_update(campaign: Campaign, **fields: Any) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        schedule_only = set(fields) <= {"schedule", "send_at", "cron", "timezone", "priority"}
        if campaign.status not in EDITABLE and not (
            schedule_only and campaign.status in RESCHEDULABLE
        ):
            raise conflict(campaign, "change")
        _apply(campaign, fields, creating=False)
        campaign.save()
        if campaign.periodic_task_id:
            periodic_task_sync(campaign)
    return campaign


def _apply(campaign: Campaign, fields: dict[str, Any], *, creating: bool) -> None:
    if "name" in fields or creating:
        name = (fields.get("name") or "").strip()
        if not name:
            raise invalid("name", "required")
        campaign.name = name[:200]
    if "template" in fields or creating:
        campaign.template = _template(campaign.app, fields.get("template"))
    if "priority" in fields:
        campaign.priority = fields["priority"]
    if "variables" in fields:
        variables = fields["variables"] or {}
        if not isinstance(variables, dict):
            raise invalid("variables", "must be an object")
        campaign.variables = variables
    if "audience" in fields or creating:
        _apply_audience(campaign, fields.get("audience") or {}, creating)
    if {"schedule", "send_at", "cron", "timezone"} & set(fields) or creating:
        _apply_schedule(campaign, fields)


def _template(app: App, ref: Any) -> MessageTemplate:
    if ref is None or ref == "":
        raise invalid("template", "required: the template's id or code")
    template = template_find(MessageTemplate.objects.filter(app=app), ref)
    if template is None:
        raise invalid("template", f"unknown template {ref!r}")
    if template.status != TemplateStatus.ACTIVE:
        raise invalid("template", f"template {template.code!r} is disabled")
    return template


def _apply_audience(campaign: Campaign, audience: dict[str, Any], creating: bool) -> None:
    if not isinstance(audience, dict):
        raise invalid("audience", "must be an object with a 'type'")
    kind = audience.get("type")
    if kind not in AudienceKind.values:
        raise invalid("audience.type", f"one of {', '.join(AudienceKind.values)}")
    campaign.audience_kind = kind
    campaign.audience_group = None
    campaign.audience_topic = None
    campaign.audience_list = []
    if kind == AudienceKind.GROUP:
        ref = audience.get("group")
        groups = UserGroup.objects.filter(app=campaign.app)
        group = None
        if isinstance(ref, int) and not isinstance(ref, bool):
            group = groups.filter(pk=ref).first()
        elif isinstance(ref, str) and ref:
            group = groups.filter(name=ref).first()
        if group is None:
            raise invalid("audience.group", f"unknown user group {ref!r}")
        campaign.audience_group = group
    elif kind == AudienceKind.TOPIC:
        campaign.audience_topic = topic_find(campaign.app, audience.get("topic"))
        if campaign.audience_topic is None:
            raise invalid("audience.topic", f"unknown topic {audience.get('topic')!r}")
    elif kind == AudienceKind.LIST:
        campaign.audience_list = _audience_list(audience.get("receivers"))
    if kind != AudienceKind.FILE and campaign.audience_file_id:
        campaign.audience_file = None


def _audience_list(receivers: Any) -> list[dict[str, Any]]:
    if not isinstance(receivers, list) or not receivers:
        raise invalid("audience.receivers", "give a non-empty list of receivers")
    limit = settings.TIDINGS_MAX_RECEIVERS
    if len(receivers) > limit:
        raise invalid("audience.receivers", f"at most {limit}; upload a file for more")
    items = []
    for index, entry in enumerate(receivers):
        if isinstance(entry, str):
            entry = {"receiver": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("receiver"), str):
            raise invalid(f"audience.receivers[{index}]", "a receiver string or an object")
        variables = entry.get("variables") or {}
        if not isinstance(variables, dict):
            raise invalid(f"audience.receivers[{index}].variables", "must be an object")
        items.append({"receiver": entry["receiver"].strip(), "variables": variables})
    return items


def _apply_schedule(campaign: Campaign, fields: dict[str, Any]) -> None:
    kind = fields.get("schedule", campaign.schedule_kind or ScheduleKind.NOW)
    if kind not in ScheduleKind.values:
        raise invalid("schedule", f"one of {', '.join(ScheduleKind.values)}")
    campaign.schedule_kind = kind
    campaign.send_at = None
    campaign.cron = ""
    if kind == ScheduleKind.AT:
        send_at = fields.get("send_at")
        if not isinstance(send_at, datetime):
            raise invalid("send_at", "required for schedule 'at': ISO 8601 with a time zone")
        campaign.send_at = send_at
    elif kind == ScheduleKind.CRON:
        campaign.cron = cron_validate(fields.get("cron"))
        tz = fields.get("timezone") or campaign.cron_timezone or "UTC"
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise invalid("timezone", f"unknown time zone {tz!r}") from None
        campaign.cron_timezone = tz


def cron_validate(expression: Any) -> str:
    """'minute hour day-of-month month day-of-week', checked by celery's own crontab parser."""
    if not isinstance(expression, str) or len(expression.split()) != 5:
        raise invalid("cron", "five fields: minute hour day-of-month month day-of-week")
    minute, hour, day_of_month, month, day_of_week = expression.split()
    try:
        crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
        )
    except (ValueError, TypeError, IndexError) as exc:
        raise invalid("cron", f"invalid cron expression: {exc}") from None
    return " ".join(expression.split())


def campaign_audience_upload(campaign: Campaign, upload: IO[bytes], name: str) -> Campaign:
    """Store a crowd file after one streaming scan: the header must fit the template (400
    naming line 1), invalid rows are counted and the first ones reported."""
    if campaign.status not in EDITABLE:
        raise conflict(campaign, "upload an audience to")
    template = campaign.template
    receiver_type = template.receiver_type
    try:
        report = crowd_scan(
            upload,
            placeholders(template.content),
            lambda receiver: receiver_problem(receiver_type, receiver),
            campaign.variables,
            settings.TIDINGS_CAMPAIGN_SEGMENT_ROWS,
        )
    except CrowdFileError as exc:
        raise ApiError(f"file: {exc}", code="invalid_file", fields={"file": [str(exc)]}) from None
    upload.seek(0)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in EDITABLE:
            raise conflict(campaign, "upload an audience to")
        audience = CampaignAudienceFile(
            original_name=name[:255],
            receiver_column=report.header.receiver_column,
            columns=report.header.columns,
            rows=report.rows,
            invalid_rows=report.invalid_rows,
            problems=report.problems,
            segments=report.segments,
        )
        audience.file.save(f"campaign-{campaign.pk}.csv", File(upload), save=False)
        audience.size = audience.file.size
        audience.save()
        previous = campaign.audience_file
        campaign.audience_kind = AudienceKind.FILE
        campaign.audience_file = audience
        campaign.audience_group = None
        campaign.audience_list = []
        campaign.save()
        if previous is not None:
            transaction.on_commit(lambda: _audience_file_delete(previous))
    return campaign


def _audience_file_delete(audience: CampaignAudienceFile) -> None:
    audience.file.delete(save=False)
    audience.delete()


def campaign_delete(campaign: Campaign) -> None:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (S.RUNNING, S.SCHEDULED, S.PAUSED):
            raise conflict(campaign, "delete (cancel it first)")
        periodic_task_remove(campaign)
        audience = campaign.audience_file
        campaign.delete()
        if audience is not None:
            transaction.on_commit(lambda: _audience_file_delete(audience))


# --- status actions -----------------------------------------------------------------------


def _locked(campaign: Campaign) -> Campaign:
    # Only the campaign row, and FOR NO KEY UPDATE: locking its App too (or taking a full
    # UPDATE lock) deadlocked with a running batch's inserts, which key-share both rows.
    return (
        Campaign.objects.select_for_update(of=("self",), no_key=True)
        .select_related("app")
        .get(pk=campaign.pk)
    )


@transaction.atomic
def campaign_submit(campaign: Campaign, actor: Actor) -> Campaign:
    """Ask for approval; at or below the threshold the campaign is approved at once."""
    campaign = _locked(campaign)
    if campaign.status != S.DRAFT:
        raise conflict(campaign, "submit")
    size = audience_size(campaign)
    if size == 0:
        field = "file" if campaign.audience_kind == AudienceKind.FILE else "audience"
        raise invalid(field, "the audience is empty: upload a file or add receivers first")
    campaign.submitted_by = actor.user
    campaign.approved_audience = size
    ApprovalRecord.objects.create(
        campaign=campaign,
        action=ApprovalRecord.Action.SUBMITTED,
        user=actor.user,
        actor=actor.label,
        note=f"{size} receivers",
    )
    if approval_needed(size):
        campaign.status = S.PENDING_APPROVAL
    else:
        campaign.status = S.APPROVED
        ApprovalRecord.objects.create(
            campaign=campaign,
            action=ApprovalRecord.Action.AUTO_APPROVED,
            actor="system",
            note=f"{size} receivers <= threshold {settings.TIDINGS_APPROVAL_THRESHOLD}",
        )
    campaign.save(update_fields=["status", "submitted_by", "approved_audience", "updated_at"])
    return campaign


@transaction.atomic
def campaign_decide(campaign: Campaign, actor: Actor, approve: bool, note: str = "") -> Campaign:
    """Four-eyes: a staff user other than the one who submitted (an App never approves)."""
    actor.require_staff()
    campaign = _locked(campaign)
    if campaign.status != S.PENDING_APPROVAL:
        raise conflict(campaign, "approve" if approve else "reject")
    user_pk = actor.user.pk if actor.user is not None else None  # require_staff: a user
    if campaign.submitted_by_id is not None and campaign.submitted_by_id == user_pk:
        raise ApiError(
            "four-eyes: the submitter cannot approve or reject their own campaign",
            code="same_approver",
            status_code=403,
        )
    campaign.status = S.APPROVED if approve else S.DRAFT
    campaign.save(update_fields=["status", "updated_at"])
    ApprovalRecord.objects.create(
        campaign=campaign,
        action=ApprovalRecord.Action.APPROVED if approve else ApprovalRecord.Action.REJECTED,
        user=actor.user,
        actor=actor.label,
        note=note,
    )
    if approve and campaign.origin_request_id:
        # A POST /send to an audience was approved: it starts without another call.
        campaign = campaign_start(campaign)
    return campaign


@transaction.atomic
def campaign_start(campaign: Campaign) -> Campaign:
    """Now: a run starts at once. At a time / cron: a beat entry fires the runs."""
    campaign = _locked(campaign)
    if campaign.status != S.APPROVED:
        raise conflict(campaign, "start")
    if campaign.schedule_kind == ScheduleKind.NOW:
        run_create(campaign)
    else:
        campaign.status = S.SCHEDULED
        campaign.save(update_fields=["status", "updated_at"])
        periodic_task_sync(campaign)
    return campaign


@transaction.atomic
def campaign_pause(campaign: Campaign) -> Campaign:
    """The running batch finishes; no further batch starts. A scheduled one stops firing."""
    campaign = _locked(campaign)
    if campaign.status not in (S.RUNNING, S.SCHEDULED):
        raise conflict(campaign, "pause")
    campaign.status = S.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignRun.objects.filter(campaign=campaign, status=RunStatus.RUNNING).update(
        status=RunStatus.PAUSED
    )
    periodic_task_sync(campaign)
    return campaign


@transaction.atomic
def campaign_resume(campaign: Campaign) -> Campaign:
    """A paused run continues from its checkpoint; otherwise the schedule fires again."""
    campaign = _locked(campaign)
    if campaign.status != S.PAUSED:
        raise conflict(campaign, "resume")
    run = CampaignRun.objects.filter(campaign=campaign, status=RunStatus.PAUSED).first()
    if run is not None:
        CampaignRun.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING, owner=None, heartbeat_at=None
        )
        campaign.status = S.RUNNING
        transaction.on_commit(lambda: run_enqueue(run.pk))
    elif campaign.schedule_kind == ScheduleKind.NOW:
        # Paused before its run was created: start it now.
        campaign.save(update_fields=["updated_at"])
        run_create(campaign)
        return campaign
    else:
        campaign.status = S.SCHEDULED
    campaign.save(update_fields=["status", "updated_at"])
    periodic_task_sync(campaign)
    return campaign


@transaction.atomic
def campaign_cancel(campaign: Campaign) -> Campaign:
    """Stop the fan-out, remove the beat entry, and cancel the messages not yet sent."""
    campaign = _locked(campaign)
    if campaign.status in FINAL:
        raise conflict(campaign, "cancel")
    campaign.status = S.CANCELLED
    campaign.save(update_fields=["status", "updated_at"])
    now = timezone.now()
    CampaignRun.objects.filter(
        campaign=campaign, status__in=[RunStatus.RUNNING, RunStatus.PAUSED]
    ).update(status=RunStatus.CANCELLED, finished_at=now)
    periodic_task_remove(campaign)
    campaign_messages_cancel(campaign, now)
    return campaign


def campaign_messages_cancel(campaign: Campaign, now: datetime) -> int:
    ids = list(
        Message.objects.filter(
            id__in=campaign_message_ids(campaign),
            state__in=[MessageState.ACCEPTED, MessageState.QUEUED],
        ).values_list("id", flat=True)
    )
    # The delivery claim skips CANCELLED messages, so their queued tasks become no-ops.
    Message.objects.filter(
        id__in=ids, state__in=[MessageState.ACCEPTED, MessageState.QUEUED]
    ).update(state=MessageState.CANCELLED, updated_at=now)
    events_record(EventRow(pk, MessageState.CANCELLED, now, "campaign cancelled") for pk in ids)
    return len(ids)
