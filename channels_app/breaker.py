"""A circuit breaker per channel account, shared by every worker through Redis.

CLOSED: calls go through. It opens when the last TIDINGS_BREAKER_FAILURES calls all failed
(a success resets that count) *and* failures are at least TIDINGS_BREAKER_FAILURE_RATE of
the calls in the current TIDINGS_BREAKER_WINDOW_SECONDS: at high concurrency a provider
failing 40% of calls shows five failures in a row every second, yet it is degraded, not
down, and retries get its traffic through.
OPEN: no call goes through for TIDINGS_BREAKER_OPEN_SECONDS.
HALF-OPEN: then traffic comes back on a ramp: 1 call per TIDINGS_BREAKER_PROBE_WINDOW_SECONDS,
doubling with every successful half-open call, until TIDINGS_BREAKER_CLOSE_AFTER successes
close the breaker. A failure re-opens it when half-open failures outnumber successes (a
failed first probe always does). A batch on its route's last account waits out the ramp
(breaker_allow_waiting) rather than releasing its messages every probe window.
Each transition is one Lua script, so concurrent workers never see half a transition.

The breaker is advice around a provider call, never a reason to lose its result: when Redis
is unreachable every function here logs and answers as a closed breaker would.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from redis.commands.core import Script

from config.redis import get_redis

if TYPE_CHECKING:
    from channels_app.models import ChannelAccount

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
# A failure count older than this is stale: "consecutive" means within a busy period.
_FAILURES_TTL = 3600
# The "tripped" marker outlives the open period: it says the next calls are on the ramp.
_TRIPPED_TTL = 7 * 24 * 3600
# Redis being down must not turn into lost or repeated provider calls.
_REDIS_ERRORS = (redis.RedisError, OSError)

# The outcomes of one or many calls (the concurrent runner records results in groups), in
# completion order, in one round trip; once the breaker is open the rest are ignored.
# The failure rate is read over a sliding window: this window's counts plus the previous
# window's, weighted by how much of it still overlaps (no cliff when a window turns over).
# KEYS: failures, open, tripped, probe, ramp, this window, previous window.
# ARGV: threshold, open ms, now (s), failures ttl, tripped ttl, window s, failure rate,
# weight of the previous window, close after, then '1' (answered) or '0' (failed) per call.
# Returns {opened, closed}: did a failure open the breaker, a success close it?
_CALLS = """
local opened, closed = 0, 0
for i = 10, #ARGV do
  if redis.call('EXISTS', KEYS[2]) == 1 then break end
  local calls = redis.call('HINCRBY', KEYS[6], 'calls', 1)
  if calls == 1 then redis.call('EXPIRE', KEYS[6], 2 * tonumber(ARGV[6])) end
  if ARGV[i] == '1' then
    if redis.call('EXISTS', KEYS[3]) == 0 then
      redis.call('DEL', KEYS[1])
    else
      local ok = redis.call('HINCRBY', KEYS[5], 'ok', 1)
      redis.call('EXPIRE', KEYS[5], ARGV[5])
      if ok >= tonumber(ARGV[9]) then
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
        closed = 1
      end
    end
  else
    local failures = redis.call('INCR', KEYS[1])
    redis.call('EXPIRE', KEYS[1], ARGV[4])
    local failed = redis.call('HINCRBY', KEYS[6], 'failed', 1)
    local weight = tonumber(ARGV[8])
    local all = calls + weight * tonumber(redis.call('HGET', KEYS[7], 'calls') or '0')
    failed = failed + weight * tonumber(redis.call('HGET', KEYS[7], 'failed') or '0')
    local trip = false
    if redis.call('EXISTS', KEYS[3]) == 1 then
      local ko = redis.call('HINCRBY', KEYS[5], 'ko', 1)
      local ok = tonumber(redis.call('HGET', KEYS[5], 'ok') or '0')
      trip = ko > ok
    elseif failures >= tonumber(ARGV[1]) and failed >= tonumber(ARGV[7]) * all then
      trip = true
    end
    if trip then
      redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
      redis.call('SET', KEYS[3], '1', 'EX', ARGV[5])
      redis.call('DEL', KEYS[4], KEYS[5])
      opened = 1
    end
  end
end
return {opened, closed}
"""

# KEYS: failures, open, tripped, probe, ramp. ARGV: probe window ms.
# 0 = refused, 1 = allowed on the half-open ramp, 2 = allowed, the breaker is closed.
_ALLOW = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[3]) == 0 then return 2 end
local ok = tonumber(redis.call('HGET', KEYS[5], 'ok') or '0')
local calls = redis.call('INCR', KEYS[4])
if calls == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[1]) end
if calls <= 2 ^ ok then return 1 end
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
    return [
        f"{base}:failures",
        f"{base}:open",
        f"{base}:tripped",
        f"{base}:probe",
        f"{base}:ramp",
    ]


def _windows(account: ChannelAccount) -> tuple[list[str], float]:
    """The keys of this and the previous rate window, and the previous one's weight."""
    size = max(1, int(settings.TIDINGS_BREAKER_WINDOW_SECONDS))
    index, into = divmod(time.time(), size)
    base = _keys(account)[0].removesuffix(":failures")
    return [f"{base}:window:{int(index)}", f"{base}:window:{int(index) - 1}"], 1 - into / size


def _script(source: str) -> Script:
    # register_script caches the SHA and falls back to EVAL: one round trip per call.
    return get_redis().register_script(source)


REFUSED, RAMP, ALLOWED = 0, 1, 2


def breaker_permit(account: ChannelAccount) -> int:
    """May a call go to this account now: REFUSED, RAMP (allowed, one of the few calls the
    half-open ramp lets through in this probe window) or ALLOWED (closed). Redis
    unreachable: ALLOWED (logged)."""
    window_ms = max(1, int(settings.TIDINGS_BREAKER_PROBE_WINDOW_SECONDS * 1000))
    try:
        return int(_script(_ALLOW)(keys=_keys(account), args=[window_ms]))
    except _REDIS_ERRORS:
        logger.warning(
            "breaker of account %s unreadable, calling anyway", account.pk, exc_info=True
        )
        return ALLOWED


def breaker_allow(account: ChannelAccount) -> bool:
    """May a call go to this account now? In HALF-OPEN, only as many callers as the ramp
    allows in this probe window get True. Redis unreachable: True (logged)."""
    return breaker_permit(account) != REFUSED


def breaker_allow_waiting(account: ChannelAccount) -> bool:
    """breaker_allow that waits out a half-open ramp: see breaker_permit_waiting."""
    return breaker_permit_waiting(account) != REFUSED


def breaker_permit_waiting(account: ChannelAccount) -> int:
    """breaker_permit, but a caller turned away by a half-open breaker's ramp waits for the
    next probe windows (at most one full ramp) instead of handing its batch back: a batch
    released and claimed again every window only churns the database. False at once when
    the breaker is open."""
    window = settings.TIDINGS_BREAKER_PROBE_WINDOW_SECONDS
    deadline = time.monotonic() + window * settings.TIDINGS_BREAKER_CLOSE_AFTER
    while True:
        permit = breaker_permit(account)
        if permit != REFUSED:
            return permit
        try:
            is_open = get_redis().exists(_keys(account)[1])
        except _REDIS_ERRORS:
            return ALLOWED
        if is_open or time.monotonic() + window > deadline:
            return REFUSED
        time.sleep(window)


def breaker_record_calls(account: ChannelAccount, outcomes: list[bool]) -> tuple[bool, bool]:
    """Count calls (True = answered, False = failed) in completion order, in one round trip;
    returns (opened, closed): whether a failure opened the breaker, a success closed it."""
    if not outcomes:
        return False, False
    windows, weight = _windows(account)
    try:
        opened = _script(_CALLS)(
            keys=_keys(account) + windows,
            args=[
                settings.TIDINGS_BREAKER_FAILURES,
                int(settings.TIDINGS_BREAKER_OPEN_SECONDS * 1000),
                f"{time.time():.3f}",
                _FAILURES_TTL,
                _TRIPPED_TTL,
                max(1, int(settings.TIDINGS_BREAKER_WINDOW_SECONDS)),
                settings.TIDINGS_BREAKER_FAILURE_RATE,
                f"{weight:.3f}",
                settings.TIDINGS_BREAKER_CLOSE_AFTER,
                *("1" if ok else "0" for ok in outcomes),
            ],
        )
    except _REDIS_ERRORS:
        logger.warning("breaker of account %s not updated", account.pk, exc_info=True)
        return False, False
    return bool(opened[0]), bool(opened[1])


def breaker_record_success(account: ChannelAccount) -> bool:
    """Count an answered call; returns True when it closed a half-open breaker."""
    return breaker_record_calls(account, [True])[1]


def breaker_record_failure(account: ChannelAccount) -> bool:
    """Count a failed call; returns True when it opened the breaker."""
    return breaker_record_calls(account, [False])[0]


def breaker_reset(account: ChannelAccount) -> None:
    get_redis().delete(*_keys(account), *_windows(account)[0])


def breaker_health(accounts: list[ChannelAccount]) -> dict[int, Health]:
    """The state of many breakers in one round trip (admin list, API)."""
    if not accounts:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for account in accounts:
        failures_key, open_key, tripped_key, *_ = _keys(account)
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
