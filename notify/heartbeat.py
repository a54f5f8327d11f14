"""Liveness marks for `tidings doctor`, kept in the shared cache (Redis, or var/cache in
`make run`): beat's heartbeat (written by config.beat.HeartbeatScheduler on every tick)
and, per queue, the workers consuming it
(a thread in each worker's main process; works on brokers without remote control too)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

BEAT_KEY = "tidings:heartbeat:beat"
QUEUE_KEY = "tidings:heartbeat:queue:{}"

_stop = threading.Event()


def beat_heartbeat_write() -> float:
    now = time.time()
    cache.set(BEAT_KEY, now, timeout=None)
    return now


def beat_heartbeat_age() -> float | None:
    """Seconds since beat's last heartbeat ran, or None if it never did."""
    at = cache.get(BEAT_KEY)
    return None if at is None else max(0.0, time.time() - float(at))


def queue_consumers_write(hostname: str, queues: list[str]) -> None:
    interval = settings.TIDINGS_WORKER_HEARTBEAT_SECONDS
    now = time.time()
    for queue in queues:
        key = QUEUE_KEY.format(queue)
        seen = cache.get(key) or {}
        seen = {host: at for host, at in seen.items() if now - at < 3 * interval}
        seen[hostname] = now
        cache.set(key, seen, timeout=int(3 * interval) + 1)


def queue_consumers(queues: list[str]) -> dict[str, list[str]]:
    """Workers that marked each queue within the last three heartbeat intervals."""
    interval = settings.TIDINGS_WORKER_HEARTBEAT_SECONDS
    now = time.time()
    found = cache.get_many([QUEUE_KEY.format(q) for q in queues])
    return {
        queue: sorted(
            host
            for host, at in (found.get(QUEUE_KEY.format(queue)) or {}).items()
            if now - at < 3 * interval
        )
        for queue in queues
    }


def _mark_forever(hostname: str, queues: list[str]) -> None:
    while not _stop.is_set():
        try:
            queue_consumers_write(hostname, queues)
        except Exception:  # noqa: BLE001 - a cache hiccup must not kill the worker
            logger.warning("worker heartbeat failed", exc_info=True)
        _stop.wait(settings.TIDINGS_WORKER_HEARTBEAT_SECONDS)


@worker_ready.connect
def _worker_ready(sender: Any, **kwargs: Any) -> None:
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    queues = sorted(sender.app.amqp.queues.consume_from)
    _stop.clear()
    threading.Thread(
        target=_mark_forever, args=(hostname, queues), name="tidings-heartbeat", daemon=True
    ).start()


@worker_shutdown.connect
def _worker_shutdown(**kwargs: Any) -> None:
    _stop.set()
