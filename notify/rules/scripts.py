"""The Lua scripts behind the Redis-backed rules: each rule makes one EVAL per batch, and a
script runs atomically on the server, so limits hold across every worker of the cluster.

All keys of one EVAL share a hash tag (see `key`), so the scripts run on a Redis Cluster too.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from django.conf import settings
from redis.commands.core import Script

from config.redis import get_redis, hash_tag

# A sliding-window counter whose members are message ids: a message already counted passes
# again (a retried or re-queued message is not its own duplicate), a new one is counted
# only while the window holds fewer than `max` members.
# KEYS: one sorted set per message. ARGV: per message, member, window (ms), max.
WINDOW_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local member = ARGV[i * 3 - 2]
  local window = tonumber(ARGV[i * 3 - 1])
  local max = tonumber(ARGV[i * 3])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZSCORE', key, member) then
    out[i] = 1
  elseif redis.call('ZCARD', key) < max then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, window)
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

# A token bucket: refill by elapsed time, grant as many of the wanted tokens as there are,
# and answer the fraction of a token left so the caller knows when the next ones come.
# KEYS[1]: the bucket. ARGV: rate (tokens/s), burst, wanted. Returns {granted, "left"}.
RATE_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return {granted, tostring(tokens)}
"""


def key(kind: str, shard: object, *parts: object) -> str:
    """`shard` (an App or an account id) is the key's hash tag: on a Redis Cluster all keys
    of one shard share a slot, so one EVAL per shard can touch many of them."""
    return f"{settings.TIDINGS_RULES_REDIS_PREFIX}{{{shard}}}:" + ":".join(
        str(p) for p in (kind, *parts)
    )


@cache
def _script(source: str) -> Script:
    # Registered once per client; redis-py sends EVALSHA and falls back to EVAL.
    return get_redis().register_script(source)


def window_admit(entries: list[tuple[str, str, int, int]]) -> list[bool]:
    """entries: (key, member, window ms, max) -> admitted; one round trip per hash tag (a
    batch usually belongs to one App, so usually one round trip)."""
    by_tag: dict[str, list[int]] = defaultdict(list)
    for index, entry in enumerate(entries):
        by_tag[hash_tag(entry[0])].append(index)
    admitted = [False] * len(entries)
    for indexes in by_tag.values():
        keys = [entries[i][0] for i in indexes]
        args: list[str | int] = []
        for i in indexes:
            _, member, window_ms, limit = entries[i]
            args += [member, max(1, window_ms), limit]
        for i, answer in zip(indexes, _script(WINDOW_ADMIT)(keys=keys, args=args), strict=True):
            admitted[i] = bool(answer)
    return admitted


def token_bucket_take(bucket: str, rate: float, burst: int, wanted: int) -> tuple[int, float]:
    """-> (tokens granted, fraction of a token left in the bucket)."""
    granted, left = _script(RATE_BUCKET)(keys=[bucket], args=[rate, burst, wanted])
    return int(granted), float(left)
