"""Periodic tasks defined in code; `manage.py setup_periodic_tasks` installs them into beat."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask


def periodic_tasks() -> list[dict]:
    return [
        {
            "name": "tidings: re-enqueue stuck messages",
            "task": "notify.tasks.requeue_stuck_messages",
            "every": settings.TIDINGS_SWEEP_INTERVAL_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
        {
            "name": "tidings: release scheduled sends",
            "task": "notify.campaigns.tasks.held_sends_release",
            "every": settings.TIDINGS_SCHEDULED_RELEASE_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
        {
            "name": "tidings: resume stalled campaign runs",
            "task": "notify.campaigns.tasks.campaign_runs_resume_stalled",
            "every": settings.TIDINGS_CAMPAIGN_RESUME_INTERVAL_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
        {
            "name": "tidings: beat heartbeat",
            "task": "notify.tasks.beat_heartbeat",
            "every": settings.TIDINGS_BEAT_HEARTBEAT_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
        # Tracking: status callbacks, receipt polling, retention.
        {
            "name": "tidings: drain status callbacks",
            "task": "tracking.tasks.drain_status_callbacks",
            "every": settings.TIDINGS_CALLBACK_INTERVAL_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
        {
            "name": "tidings: pull delivery receipts",
            "task": "tracking.tasks.pull_receipts",
            "every": settings.TIDINGS_RECEIPT_PULL_INTERVAL_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
        {
            "name": "tidings: compact daily stats",
            "task": "tracking.tasks.compact_stats",
            "every": settings.TIDINGS_STATS_COMPACT_INTERVAL_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
        {
            "name": "tidings: purge old messages",
            "task": "tracking.tasks.purge_old_messages",
            "every": settings.TIDINGS_RETENTION_INTERVAL_SECONDS,
            "queue": settings.TIDINGS_HOUSEKEEPING_QUEUE,
        },
    ]


@transaction.atomic
def periodic_tasks_install() -> list[str]:
    names = []
    for spec in periodic_tasks():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=spec["every"], period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=spec["name"],
            defaults={
                "task": spec["task"],
                "interval": interval,
                "queue": spec["queue"],
                "enabled": True,
            },
        )
        names.append(spec["name"])
    return names
