"""Campaign runs and beat entries: what both the lifecycle (services.py, staff actions) and
the executor (execution.py, a beat firing) need. Below both, so neither imports the other;
the run task is published by name (tasks.py is the top: it imports execution)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from config.celery_app import app as celery_app
from notify.holds import approval_needed
from notify.models import (
    ApprovalRecord,
    AudienceKind,
    Campaign,
    CampaignRun,
    CampaignStatus,
    ScheduleKind,
    UserGroupMember,
)
from notify.topics import topic_size

S = CampaignStatus
FIRE_TASK = "notify.campaigns.tasks.campaign_fire"
RUN_TASK = "notify.campaigns.tasks.campaign_run_execute"


# --- audience size ------------------------------------------------------------------------


def audience_size(campaign: Campaign) -> int:
    if campaign.audience_kind == AudienceKind.FILE:
        return campaign.audience_file.rows if campaign.audience_file else 0
    if campaign.audience_kind == AudienceKind.GROUP:
        group_id = campaign.audience_group_id
        return UserGroupMember.objects.filter(group_id=group_id).count() if group_id else 0
    if campaign.audience_kind == AudienceKind.TOPIC:
        return topic_size(campaign.audience_topic_id)
    return len(campaign.audience_list)


# --- runs ---------------------------------------------------------------------------------


def run_create(campaign: Campaign) -> CampaignRun | None:
    """A new run of a locked campaign; its execution is enqueued after commit. None when the
    audience grew past what was approved: the campaign is back to pending approval."""
    size = audience_size(campaign)
    if _grew_past_approval(campaign, size):
        _back_to_approval(campaign, size)
        return None
    number = (campaign.runs.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    # The run sends at most `total` receivers: members added to a group after this point
    # wait for the next run (and its approval check).
    run = CampaignRun.objects.create(campaign=campaign, number=number, total=size)
    campaign.status = S.RUNNING
    campaign.last_error = ""
    campaign.save(update_fields=["status", "last_error", "updated_at"])
    transaction.on_commit(lambda: run_enqueue(run.pk))
    return run


def _grew_past_approval(campaign: Campaign, size: int) -> bool:
    """A group's members can change after submit: an audience now above the threshold and
    larger than the size that was approved needs a second pair of eyes again."""
    return approval_needed(size) and size > (campaign.approved_audience or 0)


def _back_to_approval(campaign: Campaign, size: int) -> None:
    approved = campaign.approved_audience or 0
    campaign.status = S.PENDING_APPROVAL
    campaign.approved_audience = size
    campaign.save(update_fields=["status", "approved_audience", "updated_at"])
    ApprovalRecord.objects.create(
        campaign=campaign,
        action=ApprovalRecord.Action.RESUBMITTED,
        actor="system",
        note=f"audience grew from {approved} to {size} receivers since approval "
        f"(threshold {settings.TIDINGS_APPROVAL_THRESHOLD}): approval needed again",
    )
    periodic_task_sync(campaign)  # a schedule stops firing until approved and started again


def run_enqueue(run_id: int) -> None:
    celery_app.send_task(RUN_TASK, args=[run_id], queue=settings.TIDINGS_CAMPAIGN_QUEUE)


# --- beat entries -------------------------------------------------------------------------


def periodic_task_name(campaign: Campaign) -> str:
    return f"tidings: campaign {campaign.pk}"


def periodic_task_sync(campaign: Campaign) -> None:
    """Create or change the campaign's beat entry to match its schedule and status."""
    if campaign.schedule_kind == ScheduleKind.NOW:
        periodic_task_remove(campaign)
        return
    schedule: dict[str, Any] = {"interval": None, "crontab": None, "clocked": None, "solar": None}
    if campaign.schedule_kind == ScheduleKind.AT:
        schedule["clocked"], _ = ClockedSchedule.objects.get_or_create(
            clocked_time=campaign.send_at
        )
    else:
        minute, hour, day_of_month, month, day_of_week = campaign.cron.split()
        schedule["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone=campaign.cron_timezone or "UTC",
        )
    defaults = {
        "task": FIRE_TASK,
        "args": json.dumps([campaign.pk]),
        "queue": settings.TIDINGS_CAMPAIGN_QUEUE,
        "one_off": campaign.schedule_kind == ScheduleKind.AT,
        "enabled": campaign.status == S.SCHEDULED,
        "description": f"Campaign {campaign.name!r} ({campaign.app.name})",
        **schedule,
    }
    task = campaign.periodic_task
    if task is None:
        task = PeriodicTask.objects.create(name=periodic_task_name(campaign), **defaults)
        Campaign.objects.filter(pk=campaign.pk).update(periodic_task=task)
        campaign.periodic_task = task
        return
    for key, value in defaults.items():
        setattr(task, key, value)
    task.save()  # save(), not update(): beat notices changes through PeriodicTasks.changed


def periodic_task_remove(campaign: Campaign) -> None:
    if campaign.periodic_task_id:
        task = campaign.periodic_task
        assert task is not None  # the id is set
        Campaign.objects.filter(pk=campaign.pk).update(periodic_task=None)
        campaign.periodic_task = None
        task.delete()
