from __future__ import annotations

import time

import pytest

from channels_app.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    breaker_allow,
    breaker_allow_waiting,
    breaker_health,
    breaker_record_failure,
    breaker_record_success,
)
from channels_app.models import ChannelAccount


@pytest.fixture
def account(tenant, settings):
    settings.TIDINGS_BREAKER_FAILURES = 3
    settings.TIDINGS_BREAKER_OPEN_SECONDS = 0.3
    return ChannelAccount.objects.create(app=tenant, name="a", channel="email", provider="sandbox")


def state(account) -> str:
    return breaker_health([account])[account.pk].state


def test_opens_after_consecutive_failures_only(account):
    assert [breaker_record_failure(account) for _ in range(2)] == [False, False]
    breaker_record_success(account)  # resets the count
    assert [breaker_record_failure(account) for _ in range(3)] == [False, False, True]
    assert state(account) == OPEN
    assert breaker_health([account])[account.pk].retry_in > 0
    assert not breaker_allow(account)


def test_half_open_ramps_traffic_back_and_closes_after_enough_successes(account, settings):
    # The issue 9 brownout: one probe for the whole fleet starved every batch; now the
    # calls allowed per probe window double with each success until the breaker closes.
    settings.TIDINGS_BREAKER_PROBE_WINDOW_SECONDS = 0.2
    settings.TIDINGS_BREAKER_CLOSE_AFTER = 3
    for _ in range(3):
        breaker_record_failure(account)
    time.sleep(0.35)

    assert state(account) == HALF_OPEN
    allowed = [breaker_allow(account) for _ in range(4)]
    assert allowed == [True, False, False, False]  # one probe in the first window
    assert not breaker_record_success(account)
    time.sleep(0.25)  # next window: two calls
    assert [breaker_allow(account) for _ in range(4)] == [True, True, False, False]
    assert not breaker_record_success(account)
    time.sleep(0.25)  # then four
    assert [breaker_allow(account) for _ in range(6)] == [True] * 4 + [False] * 2
    assert state(account) == HALF_OPEN
    assert breaker_record_success(account)  # the third success closes it

    assert state(account) == CLOSED
    assert all(breaker_allow(account) for _ in range(10))


def test_half_open_tolerates_a_failure_among_successes(account, settings):
    settings.TIDINGS_BREAKER_PROBE_WINDOW_SECONDS = 0.05
    settings.TIDINGS_BREAKER_CLOSE_AFTER = 10
    for _ in range(3):
        breaker_record_failure(account)
    time.sleep(0.35)
    assert breaker_allow(account)
    breaker_record_success(account)
    breaker_record_success(account)

    assert not breaker_record_failure(account)  # 1 failure, 2 successes: still ramping
    assert state(account) == HALF_OPEN
    assert not breaker_record_failure(account)
    assert breaker_record_failure(account)  # failures outnumber successes: open again
    assert state(account) == OPEN


def test_a_degraded_provider_does_not_open_the_breaker(account):
    # Five failures in a row happen every second at 40% errors and high concurrency; the
    # breaker opens only when failures are also half the calls in the window.
    for _ in range(30):
        breaker_record_success(account)
    assert [breaker_record_failure(account) for _ in range(5)] == [False] * 5
    assert state(account) == CLOSED


def test_an_unreachable_redis_reads_as_a_closed_breaker(account, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    assert breaker_allow(account)
    assert not breaker_record_failure(account)
    assert not breaker_record_success(account)


def test_failed_probe_opens_again_at_once(account):
    for _ in range(3):
        breaker_record_failure(account)
    time.sleep(0.35)
    assert breaker_allow(account)

    assert breaker_record_failure(account)  # one failure is enough in half-open

    assert state(account) == OPEN
    assert not breaker_allow(account)


def test_breakers_are_per_account(account, tenant):
    other = ChannelAccount.objects.create(app=tenant, name="b", channel="email", provider="sandbox")
    for _ in range(3):
        breaker_record_failure(account)

    health = breaker_health([account, other])

    assert (health[account.pk].state, health[other.pk].state) == (OPEN, CLOSED)
    assert health[account.pk].failures == 3
    assert breaker_allow(other)


def test_the_last_account_waits_out_the_ramp_but_not_an_open_breaker(account, settings):
    settings.TIDINGS_BREAKER_PROBE_WINDOW_SECONDS = 0.1
    for _ in range(3):
        breaker_record_failure(account)
    assert not breaker_allow_waiting(account)  # open: no waiting
    time.sleep(0.35)
    assert breaker_allow(account)  # the first probe of the window

    started = time.monotonic()
    assert breaker_allow_waiting(account)  # the next window's call
    assert 0.0 < time.monotonic() - started < 0.5
