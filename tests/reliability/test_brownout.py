"""Issue 9, defect 1 reproduced through a real worker: a provider answering half of all
calls with a transient error. Before the fix the breaker stranded most batches and every
stranding spent an attempt, so most messages ended FAILED with "circuit open"."""

from __future__ import annotations

import random
import sys
import threading
import time

import pytest

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import Reply
from notify.sweeper import messages_requeue_stuck
from templates_app.models import MessageTemplate
from tests.e2e.conftest import final_states, wait_until
from tracking.models import MessageEvent

pytestmark = pytest.mark.e2e


class Brownout:
    """Half the calls fail with 503, at random (seeded); counts what it answered."""

    def __init__(self, failure_rate: float = 0.5):
        self.failure_rate = failure_rate
        self.random = random.Random(9)  # noqa: S311 - a test's coin
        self.lock = threading.Lock()
        self.answered = {"ok": 0, "busy": 0}

    def __call__(self, request):
        with self.lock:
            busy = self.random.random() < self.failure_rate
            self.answered["busy" if busy else "ok"] += 1
        return Reply(503, {"error": "busy"}) if busy else Reply(200, {"ok": True})


def test_a_provider_failing_half_its_calls_still_gets_everything_sent(
    api, tenant, fake_http, start_worker, settings
):
    provider = Brownout()
    fake_http.responder = provider
    account = ChannelAccount.objects.create(
        app=tenant,
        name="brownout",
        channel="webhook",
        provider="webhook",
        config={"url": fake_http.url + "/in", "secret": "s"},
    )
    MessageTemplate.objects.create(
        app=tenant,
        name="hook",
        code="hook",
        channel="webhook",
        receiver_type="user_id",
        content={"text": "hello {$name}"},
        channel_account=account,
    )
    # Short breaker and retry times so the test takes a minute, not hours; everything
    # else (attempt cap, breaker threshold, retry window) is the default.
    start_worker(
        concurrency=4,
        TIDINGS_BATCH_SIZE=100,
        TIDINGS_BREAKER_OPEN_SECONDS=1,
        TIDINGS_BREAKER_PROBE_WINDOW_SECONDS=0.2,
        TIDINGS_RETRY_BASE_SECONDS=0.2,
        TIDINGS_RETRY_MAX_SECONDS=2,
    )
    ids = []
    for start in range(0, 400, 100):
        response = api.post(
            "/api/v1/send",
            {
                "template": "hook",
                "receivers": [f"user-{i}" for i in range(start, start + 100)],
                "variables": {"name": "x"},
            },
            format="json",
        )
        ids += [m["message_id"] for m in response.json()["messages"]]

    def settled() -> bool:
        messages_requeue_stuck()  # what beat would do
        states = final_states(ids)
        return states.get("SENT", 0) + states.get("FAILED", 0) == len(ids)

    started = time.monotonic()
    settled_in_time = wait_until(settled, timeout=150, interval=1)
    elapsed = time.monotonic() - started
    states = final_states(ids)
    sys.stderr.write(f"\nbrownout: {states} in {elapsed:.0f}s, provider {provider.answered}\n")
    assert states.get("SENT", 0) >= 0.99 * len(ids), (states, provider.answered)
    assert settled_in_time, (states, elapsed)


class Outage:
    """Down (503) for the first `seconds` after the first call, then fine."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started: float | None = None
        self.lock = threading.Lock()
        self.calls = 0

    def __call__(self, request):
        with self.lock:
            self.calls += 1
            self.started = self.started or time.monotonic()
            down = time.monotonic() - self.started < self.seconds
        return Reply(503, {"error": "down"}) if down else Reply(200, {"ok": True})


def test_an_outage_opens_the_breaker_and_held_messages_go_when_it_ramps_back(
    api, tenant, fake_http, start_worker
):
    provider = Outage(seconds=8)
    fake_http.responder = provider
    account = ChannelAccount.objects.create(
        app=tenant,
        name="outage",
        channel="webhook",
        provider="webhook",
        config={"url": fake_http.url + "/in", "secret": "s"},
    )
    MessageTemplate.objects.create(
        app=tenant,
        name="hook",
        code="hook",
        channel="webhook",
        receiver_type="user_id",
        content={"text": "hello {$name}"},
        channel_account=account,
    )
    start_worker(
        concurrency=2,
        TIDINGS_BATCH_SIZE=50,
        TIDINGS_BREAKER_OPEN_SECONDS=1,
        TIDINGS_BREAKER_PROBE_WINDOW_SECONDS=0.2,
    )
    response = api.post(
        "/api/v1/send",
        {
            "template": "hook",
            "receivers": [f"u{i}" for i in range(200)],
            "variables": {"name": "x"},
        },
        format="json",
    )
    ids = [m["message_id"] for m in response.json()["messages"]]

    def settled() -> bool:
        messages_requeue_stuck()
        states = final_states(ids)
        return states.get("SENT", 0) + states.get("FAILED", 0) == len(ids)

    assert wait_until(settled, timeout=120, interval=1), final_states(ids)
    assert final_states(ids) == {"SENT": 200}
    # the breaker kept the outage from the provider: a few probes, not 200 × retries
    assert provider.calls < 200 + 60, provider.calls
    held = MessageEvent.objects.filter(
        message__message_id__in=ids, state="THROTTLED", detail__contains="circuit open"
    )
    assert held.exists()
