"""Beat's scheduler with a heartbeat (the default: CELERY_BEAT_SCHEDULER).

Beat has no health endpoint. On every tick (at least every 5 s, DatabaseScheduler's longest
sleep) this scheduler writes the time into the shared cache, where `tidings doctor` reads
it, and touches TIDINGS_BEAT_HEARTBEAT_FILE when set, whose age a container health check
tests (docker/compose.yml: older than 60 s means beat is stuck or gone)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from notify.heartbeat import beat_heartbeat_write

logger = logging.getLogger(__name__)


class HeartbeatScheduler(DatabaseScheduler):
    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        try:
            beat_heartbeat_write()
        except Exception:  # a cache hiccup must not stop beat; doctor will say so
            logger.warning("beat heartbeat not written", exc_info=True)
        if settings.TIDINGS_BEAT_HEARTBEAT_FILE:
            Path(settings.TIDINGS_BEAT_HEARTBEAT_FILE).touch()
        return interval
