"""Beat's scheduler with a heartbeat: `celery -A config beat -S config.beat.HeartbeatScheduler`.

Beat has no health endpoint; this scheduler touches TIDINGS_BEAT_HEARTBEAT_FILE on every
tick (at least every 5 s, DatabaseScheduler's longest sleep), so a health check can test the
file's age (docker/compose.yml: older than 60 s means beat is stuck or gone)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler


class HeartbeatScheduler(DatabaseScheduler):
    def tick(self, *args, **kwargs) -> float:
        interval = super().tick(*args, **kwargs)
        if settings.TIDINGS_BEAT_HEARTBEAT_FILE:
            Path(settings.TIDINGS_BEAT_HEARTBEAT_FILE).touch()
        return interval
