"""The floor's task: raw Celery, one no-op task per message, on the same broker."""

from __future__ import annotations

import os

import redis

from config.celery_app import app

_counter = redis.Redis.from_url(os.environ.get("BENCH_COUNTER_URL", "redis://127.0.0.1:6379/10"))


@app.task(name="bench.noop", acks_late=True, ignore_result=True)
def noop(index: int) -> None:
    _counter.incr("bench:noop:done")
