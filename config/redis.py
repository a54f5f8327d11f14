"""The one Redis client for rules, flow control, circuit breakers and other shared state.

With REDIS_URL set (production, tests) it is a pooled client of that server. Without it
(`make run`'s embedded mode) it is an in-process Redis emulation with Lua, shared by the
threads of the single worker process that mode runs; state then lives as long as that
process.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def get_redis() -> redis.Redis:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = _connect(url)
    return client


def _connect(url: str) -> redis.Redis:
    if url:
        return redis.Redis.from_url(url, health_check_interval=30, socket_timeout=5)
    import fakeredis  # only the embedded mode needs it

    return fakeredis.FakeRedis()
