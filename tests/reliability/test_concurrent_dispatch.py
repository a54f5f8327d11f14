"""Many requests in flight per worker (channels_app/providers/runner.py): the in-doubt bound
after a SIGKILL, flow control and the circuit breaker still hold with concurrency."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest
from django.db.models import Q
from django.utils import timezone

from channels_app.breaker import OPEN, breaker_health
from channels_app.models import ChannelAccount
from channels_app.providers import runner
from channels_app.providers.fakes_http import Reply
from notify.delivery import batch_deliver
from notify.models import FlowLimit
from tests.e2e.conftest import final_states, wait_until
from tracking.models import Message, MessageEvent

pytestmark = pytest.mark.e2e


class SlowReceiver:
    """A webhook receiver answering after `delay`; notes every request, the idempotency key
    it carried, and how many were in flight at once."""

    def __init__(self, delay: float, status: int = 200):
        self.delay, self.status = delay, status
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()
        self.keys: dict[str, set[str]] = {}
        self.arrivals: list[float] = []
        self.in_flight = self.peak = 0

    def __call__(self, request):
        message_id = json.loads(request.body)["message_id"]
        with self.lock:
            self.received[message_id] += 1
            self.keys.setdefault(message_id, set()).add(request.headers.get("idempotency-key"))
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        return Reply(self.status, {"ok": self.status == 200})


def _account(webhook, **fields) -> ChannelAccount:
    ChannelAccount.objects.filter(pk=webhook.pk).update(**fields)
    runner._windows.clear()  # this process's windows: start each test from the setting
    return webhook


def test_sigkill_with_200_calls_in_flight_resends_only_those(
    send, webhook, fake_http, start_worker, settings
):
    # given a slow provider and one worker process with 200 requests in flight
    receiver = SlowReceiver(delay=1.5)
    fake_http.responder = receiver
    _account(webhook, max_in_flight=200)
    settings.TIDINGS_STUCK_AFTER_SECONDS = 2
    settings.TIDINGS_CLAIM_LEASE_SECONDS = 2
    overrides = {
        "TIDINGS_BATCH_SIZE": 300,
        "TIDINGS_CLAIM_LEASE_SECONDS": 2,
        "TIDINGS_DISPATCH_THREADS": 200,
        "TIDINGS_DISPATCH_INITIAL_WINDOW": 200,
    }
    worker = start_worker(queues="webhook.normal", concurrency=1, **overrides)
    ids = [str(m.message_id) for m in send("hook", [f"u{i}" for i in range(300)])]

    # when the worker is SIGKILLed while they wait for their answers
    assert wait_until(lambda: len(receiver.received) >= 200, timeout=30, interval=0.05)
    worker.kill()
    in_flight_at_kill = set(receiver.received)
    assert 200 <= len(in_flight_at_kill) < 300
    assert final_states(ids).get("SENT", 0) == 0  # none was answered before the kill

    # and, once their lease ran out, the next delivery of the batch takes over (here in
    # this process: what the sweeper's re-published task does in a worker)
    receiver.delay = 0.05
    settings.TIDINGS_DISPATCH_INITIAL_WINDOW = 64
    pks = list(Message.objects.filter(message_id__in=ids).values_list("pk", flat=True))

    def all_sent() -> bool:
        batch_deliver(pks)
        return final_states(ids) == {"SENT": 300}

    assert wait_until(all_sent, timeout=60, interval=0.5), final_states(ids)

    # then every message arrived, a second time only if it was in flight at the kill, and
    # every request of a message carried the same idempotency key: its message id
    assert set(receiver.received) == set(ids)
    duplicates = {mid for mid, count in receiver.received.items() if count > 1}
    assert duplicates <= in_flight_at_kill
    assert all(receiver.received[mid] <= 2 for mid in ids)
    assert all(receiver.keys[mid] == {mid} for mid in ids)
    sent_events = MessageEvent.objects.filter(message__message_id__in=ids, state="SENT")
    assert sent_events.count() == 300


def test_flow_limit_holds_with_100_in_flight(send, webhook, fake_http, settings):
    # given an account allowed 100 requests in flight but limited to 10 per second
    receiver = SlowReceiver(delay=0.3)
    fake_http.responder = receiver
    settings.TIDINGS_DISPATCH_INITIAL_WINDOW = 100
    _account(webhook, max_in_flight=100)
    FlowLimit.objects.create(account=webhook, rate_per_second=10, burst=10)
    messages = send("hook", [f"u{i}" for i in range(40)])
    pks = [m.pk for m in messages]

    # when they are delivered, each deferred one again when it is due (as its task would)
    def all_sent() -> bool:
        due = Message.objects.filter(pk__in=pks, state="QUEUED").filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())
        )
        batch_deliver(list(due.values_list("pk", flat=True)))
        return set(Message.objects.filter(pk__in=pks).values_list("state", flat=True)) == {"SENT"}

    assert wait_until(all_sent, timeout=30, interval=0.05)

    # then requests went out concurrently, yet never faster than the bucket allows:
    # 10 at once, then 10 per second (any 1 s holds at most burst + rate)
    assert receiver.peak >= 5
    arrivals = sorted(receiver.arrivals)
    assert len(arrivals) == 40
    assert arrivals[-1] - arrivals[0] >= (40 - 10) / 10 - 0.5
    for index, start in enumerate(arrivals):
        assert sum(1 for t in arrivals[index:] if t < start + 1.0) <= 20


def test_breaker_opens_and_holds_the_rest_with_64_in_flight(send, webhook, fake_http, settings):
    # given a provider that is down, and 64 requests allowed in flight at once
    receiver = SlowReceiver(delay=0.05, status=503)
    fake_http.responder = receiver
    settings.TIDINGS_DISPATCH_INITIAL_WINDOW = 64
    _account(webhook, max_in_flight=64)
    messages = send("hook", [f"u{i}" for i in range(200)])

    # when one batch is delivered
    batch_deliver([m.pk for m in messages])

    # then the requests overlapped, the breaker opened after the first window, and the rest
    # were held for it without spending an attempt
    assert receiver.peak >= 10
    # (a window, plus the calls whose failures the breaker needed to open)
    assert len(receiver.received) <= 64 + 2 * settings.TIDINGS_BREAKER_FAILURES
    assert breaker_health([webhook])[webhook.pk].state == OPEN
    held = Message.objects.filter(pk__in=[m.pk for m in messages], state="QUEUED")
    assert held.count() >= 200 - 64 - 2 * settings.TIDINGS_BREAKER_FAILURES
    assert set(held.values_list("attempts", flat=True)) == {0}
    assert (
        MessageEvent.objects.filter(
            message__in=held, state="THROTTLED", detail__contains="circuit open"
        ).count()
        == held.count()
    )


class BrownoutReceiver(SlowReceiver):
    """Of every 10 requests, 3 answer 500 and 1 outlasts the provider timeout; the rest
    answer 200 after `delay`."""

    def __init__(self, delay: float, timeout_after: float):
        super().__init__(delay)
        self.timeout_after = timeout_after
        self.count = 0

    def __call__(self, request):
        with self.lock:
            self.count += 1
            turn = self.count % 10
        reply = super().__call__(request)  # noted on arrival
        if turn == 3:
            time.sleep(self.timeout_after)
        return Reply(500, {"ok": False}) if turn in (0, 1, 2) else reply


def test_a_brownout_keeps_calls_in_flight_and_retries_only_what_failed(
    send, webhook, fake_http, settings
):
    # given a provider failing 40% of its calls (30% 500, 10% timeouts), still answering
    # the rest, and an account allowed 32 requests in flight
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.5
    receiver = BrownoutReceiver(delay=0.05, timeout_after=0.8)
    fake_http.responder = receiver
    _account(webhook, max_in_flight=32)
    messages = send("hook", [f"u{i}" for i in range(300)])

    # when one batch is delivered
    batch_deliver([m.pk for m in messages])

    # then every message was called once: a timeout did not stop the batch, the breaker
    # stayed closed, and the window grew (failures halve it only while calls mostly fail)
    assert len(receiver.received) == 300
    assert receiver.peak >= 16
    states = Counter(
        Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("state", flat=True)
    )
    assert states["SENT"] >= 150
    assert states["SENT"] + states["RETRYING"] == 300
    assert not MessageEvent.objects.filter(message__in=messages, state="THROTTLED").exists()
    assert breaker_health([webhook])[webhook.pk].state != OPEN


@pytest.mark.parametrize("failure", ["503", "timeout"])
def test_a_provider_that_is_down_costs_a_window_then_the_breaker_holds_the_rest(
    failure, send, webhook, fake_http, settings
):
    # given a provider failing every call, by a 503 or by outlasting the timeout
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3
    if failure == "503":
        receiver = SlowReceiver(delay=0.05, status=503)
    else:
        receiver = SlowReceiver(delay=0.6)
    fake_http.responder = receiver
    settings.TIDINGS_DISPATCH_INITIAL_WINDOW = 16
    _account(webhook, max_in_flight=16)
    messages = send("hook", [f"u{i}" for i in range(200)])

    # when one batch is delivered
    batch_deliver([m.pk for m in messages])

    # then it cost about a window of calls, and the rest waits for the breaker
    assert len(receiver.received) <= 16 + 2 * settings.TIDINGS_BREAKER_FAILURES
    assert breaker_health([webhook])[webhook.pk].state == OPEN
    held = Message.objects.filter(pk__in=[m.pk for m in messages], state="QUEUED")
    assert held.count() >= 200 - 16 - 2 * settings.TIDINGS_BREAKER_FAILURES


def test_a_rate_limit_holds_the_rest_for_about_its_retry_after(send, webhook, fake_http, settings):
    # given a provider rate limiting every call with Retry-After: 1
    fake_http.responder = lambda request: Reply(429, {"error": "slow down"}, {"Retry-After": "1"})
    _account(webhook, max_in_flight=8)
    messages = send("hook", [f"u{i}" for i in range(100)])

    # when one batch is delivered
    started = timezone.now()
    batch_deliver([m.pk for m in messages])

    # then the messages the runner did not call wait about the pause the provider asked
    # for (spread over as long again, rounded up to the retry bucket), not the breaker's
    held = Message.objects.filter(pk__in=[m.pk for m in messages], attempts=0, state="QUEUED")
    assert held.count() >= 80
    latest = max(held.values_list("next_attempt_at", flat=True))
    bucket = settings.TIDINGS_RETRY_BUCKET_SECONDS
    assert (latest - started).total_seconds() <= 2 + bucket + 1
