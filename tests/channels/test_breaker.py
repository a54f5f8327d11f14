from __future__ import annotations

import time

import pytest

from channels_app.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    breaker_allow,
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


def test_half_open_lets_one_probe_through_and_success_closes(account):
    for _ in range(3):
        breaker_record_failure(account)
    time.sleep(0.35)

    assert state(account) == HALF_OPEN
    assert breaker_allow(account)  # the probe
    assert not breaker_allow(account)  # everyone else waits for it
    breaker_record_success(account)

    assert state(account) == CLOSED
    assert breaker_allow(account) and breaker_allow(account)


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
