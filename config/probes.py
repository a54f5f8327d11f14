"""Does PostgreSQL, or Redis, answer within `timeout` seconds: each on a connection of its
own, with a connect timeout (libpq's default would wait as long as the kernel retries on an
unreachable host). Used by the readiness check (config/health.py), `tidings doctor` (Redis)
and the worker pool processes' warm-up (notify/preload.py)."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connections
from django.db.utils import load_backend


def database_check(timeout: float) -> None:
    """SELECT 1 on a fresh connection with a connect timeout (the caller's own connection may
    be long gone) and a statement timeout."""
    db = dict(connections.settings["default"])
    if db["ENGINE"] == "django.db.backends.postgresql":
        db["OPTIONS"] = {
            **db.get("OPTIONS", {}),
            "connect_timeout": max(1, round(timeout)),
            "options": f"-c statement_timeout={int(timeout * 1000)}",
        }
    wrapper = load_backend(db["ENGINE"]).DatabaseWrapper(db, "healthz")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        wrapper.close()


def redis_check(timeout: float) -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
    finally:
        client.close()
