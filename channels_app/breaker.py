"""A circuit breaker per channel account, shared by every worker through Redis.

CLOSED: calls go through; each failed call counts, a successful one resets the count.
OPEN: after TIDINGS_BREAKER_FAILURES consecutive failures no call goes through for
TIDINGS_BREAKER_OPEN_SECONDS. HALF-OPEN: then one worker wins the probe (SET NX) and makes
one call; success closes the breaker, failure opens it again. Each transition is one Lua
script, so concurrent workers never see half a transition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from config.redis import get_redis

if TYPE_CHECKING:
    from channels_app.models import ChannelAccount

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
# A failure count older than this is stale: "consecutive" means within a busy period.
_FAILURES_TTL = 3600
# The "tripped" marker outlives the open period: it says the next call is a probe.
_TRIPPED_TTL = 7 * 24 * 3600

# KEYS: failures, open, tripped, probe. ARGV: threshold, open ms, now (s), failures ttl,
# tripped ttl. Returns 1 when this failure opened the breaker.
_FAILURE = """
local failures = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if redis.call('EXISTS', KEYS[3]) == 1 or failures >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
  redis.call('SET', KEYS[3], '1', 'EX', ARGV[5])
  redis.call('DEL', KEYS[4])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Health:
    state: str
    failures: int
    retry_in: float  # seconds until an open breaker lets a probe through


def _keys(account: ChannelAccount) -> list[str]:
    # Account ids come back when a database is recreated while Redis keeps its keys
    # (tests, restored staging copies): the row's creation time makes the key its own.
    created = int(account.created_at.timestamp() * 1_000_000) if account.created_at else 0
    # One hash tag per account: its keys share a Redis Cluster slot (one Lua call, one MGET).
    base = f"tidings:breaker:{{{account.pk}:{created}}}"
    return [f"{base}:failures", f"{base}:open", f"{base}:tripped", f"{base}:probe"]


def breaker_allow(account: ChannelAccount) -> bool:
    """May a call go to this account now? In HALF-OPEN only the one caller that takes the
    probe gets True."""
    failures_key, open_key, tripped_key, probe_key = _keys(account)
    client = get_redis()
    is_open, tripped = client.mget(open_key, tripped_key)
    if is_open:
        return False
    if not tripped:
        return True
    probe_ttl = max(1, int(settings.TIDINGS_BREAKER_OPEN_SECONDS))
    # A probe whose worker died frees itself after an open period.
    return bool(client.set(probe_key, "1", nx=True, ex=probe_ttl))


def breaker_record_success(account: ChannelAccount) -> None:
    client = get_redis()
    keys = _keys(account)
    if client.exists(keys[0], keys[2], keys[3]):
        client.delete(keys[0], keys[1], keys[2], keys[3])


def breaker_record_failure(account: ChannelAccount) -> bool:
    """Count a failed call; returns True when it opened the breaker."""
    open_ms = int(settings.TIDINGS_BREAKER_OPEN_SECONDS * 1000)
    opened = get_redis().eval(
        _FAILURE,
        4,
        *_keys(account),
        settings.TIDINGS_BREAKER_FAILURES,
        open_ms,
        f"{time.time():.3f}",
        _FAILURES_TTL,
        _TRIPPED_TTL,
    )
    return bool(opened)


def breaker_reset(account: ChannelAccount) -> None:
    get_redis().delete(*_keys(account))


def breaker_health(accounts: list[ChannelAccount]) -> dict[int, Health]:
    """The state of many breakers in one round trip (admin list, API)."""
    if not accounts:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for account in accounts:
        failures_key, open_key, tripped_key, _ = _keys(account)
        pipe.get(failures_key)
        pipe.pttl(open_key)
        pipe.exists(tripped_key)
    replies = pipe.execute()
    health = {}
    for index, account in enumerate(accounts):
        failures, open_ms, tripped = replies[index * 3 : index * 3 + 3]
        if open_ms and open_ms > 0:
            state, retry_in = OPEN, open_ms / 1000
        elif tripped:
            state, retry_in = HALF_OPEN, 0.0
        else:
            state, retry_in = CLOSED, 0.0
        health[account.pk] = Health(state, int(failures or 0), retry_in)
    return health
