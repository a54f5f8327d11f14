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
