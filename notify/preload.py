"""Each worker pool process gets ready for its first task as it starts: it imports the
configured rules and every provider adapter, opens its PostgreSQL connection and plans one
query on the message table (which loads the partitions into the backend's caches). Without
this, the first task of each process did all of it: a verification code sent to a freshly
started high worker took ~40 ms longer than the next one on an idle box, and 94–114 ms from
QUEUED to SENDING on a busy one against ~40 ms. After a deploy or a restart that is the
first code of every process. Then it freezes what it loaded out of the garbage collector's
reach (`gc.freeze`).

Order matters: Celery's Django fixup closes, in each new pool process, the connections it
inherited from the parent (a worker_process_init receiver it connects at worker_init). The
warm-up is connected at worker_init too, later than the fixup's (this module is imported
while Django sets up, after the fixup was installed), so it runs after that close."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from celery.signals import worker_init, worker_process_init
from django.db import connection

from channels_app.providers.registry import PROVIDERS, get_adapter_class
from config.probes import database_check
from notify.rules.base import rules_load
from tracking.models import Message

logger = logging.getLogger(__name__)

_PROBE_SECONDS = 1.0


@worker_init.connect
def _warm_up_install(**kwargs: Any) -> None:
    worker_process_init.connect(pool_process_warm_up, weak=False)


def pool_process_warm_up(**kwargs: Any) -> None:
    """Best effort: whatever fails here (PostgreSQL down or unreachable, a plugin provider
    that does not import) is logged, and the first task meets it as it would have anyway."""
    started = time.monotonic()
    steps: dict[str, Callable[[], object]] = {"rules": rules_load, "database": _database_warm_up}
    for provider in PROVIDERS:
        steps[f"provider {provider}"] = partial(get_adapter_class, provider)
    failed = 0
    for name, step in steps.items():
        try:
            step()
        except Exception:  # noqa: BLE001 - a warm-up never stops a worker from starting
            failed += 1
            logger.warning("worker warm-up: %s failed", name, exc_info=True)
    # What is loaded now stays for the life of the process: moved out of the collector's
    # generations (as config/wsgi.py does), it is no longer traversed by every full
    # collection, which the allocations of a 500-message batch trigger again and again.
    gc.freeze()
    logger.info(
        "pool process warmed up in %.0f ms (%d steps, %d failed; %d objects frozen)",
        (time.monotonic() - started) * 1000,
        len(steps),
        failed,
        gc.get_freeze_count(),
    )


def _database_warm_up() -> None:
    # Celery gives a new pool process 4 s to report that it is up (worker_proc_alive_timeout)
    # and kills it otherwise, and libpq waits on an unreachable host as long as the kernel
    # retries (minutes): a server that does not answer within a second is left to the first
    # task, as before.
    database_check(_PROBE_SECONDS)
    connection.ensure_connection()
    Message.objects.filter(id=-1).exists()
