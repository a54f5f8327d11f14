"""The one Redis client for rules, flow control, circuit breakers and other shared state.

With REDIS_URL set (production, tests) it is a pooled client of that server; of a Redis
Cluster when the URL says `redis+cluster://host:port` (any node; the client discovers the
rest); or of the master that Sentinel names with
`redis+sentinel://sentinel1:26379,sentinel2:26379/<service>/<db>` (it follows failovers). Without it (`make run`'s embedded mode) it is an in-process Redis emulation with Lua,
shared by the threads of the single worker process that mode runs; state then lives as long
as that process.

Every multi-key script names its keys with one hash tag (`{...}`), so on a cluster all keys
of one EVAL live in one slot.
"""

from __future__ import annotations

import threading

import fakeredis
import redis
from django.conf import settings
from redis.sentinel import Sentinel

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

_lock = threading.Lock()
_clients: dict[str, redis.Redis | redis.RedisCluster] = {}


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0] in CLUSTER_SCHEMES


def get_redis() -> redis.Redis | redis.RedisCluster:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = _connect(url)
    return client


def _connect(url: str) -> redis.Redis | redis.RedisCluster:
    if is_cluster_url(url):
        scheme, rest = url.split("://", 1)
        return redis.RedisCluster.from_url(
            f"{CLUSTER_SCHEMES[scheme]}://{rest}", socket_timeout=5, health_check_interval=30
        )
    if url.startswith("redis+sentinel://"):
        return _sentinel_master(url)
    if url:
        return redis.Redis.from_url(url, health_check_interval=30, socket_timeout=5)
    return fakeredis.FakeRedis()


def _sentinel_master(url: str) -> redis.Redis:
    hosts, _, path = url.removeprefix("redis+sentinel://").partition("/")
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ValueError("a redis+sentinel:// URL names its service: …/<service>/<db>")
    sentinels = [
        (host, int(port or 26379)) for host, _, port in (h.partition(":") for h in hosts.split(","))
    ]
    return Sentinel(sentinels, socket_timeout=5).master_for(
        service, db=int(db or 0), socket_timeout=5, health_check_interval=30
    )


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: the text between the first `{` and the next
    `}`, or the whole key (the cluster spec's rule)."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key
