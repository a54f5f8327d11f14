"""Issue 9 in-process: breaker holds, retry budget, sweeper, Redis trouble around a provider
call, retry batching, lease renewal. Each test failed on the code before the fix."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from channels_app.breaker import breaker_record_failure, breaker_reset
from channels_app.providers.fakes_http import Reply
from notify.delivery import batch_deliver, messages_claim
from notify.models import FlowLimit
from notify.sweeper import messages_requeue_stuck
from tracking.models import Message, MessageEvent


def _events(message: Message, state: str | None = None) -> list[str]:
    events = Message.objects.get(pk=message.pk).events.order_by("id")
    if state:
        events = events.filter(state=state)
    return list(events.values_list("detail", flat=True))


def _task_ids(raw: bytes) -> list[int]:
    """The message ids of a deliver_batch task as kombu's Redis transport stores it."""
    body = json.loads(base64.b64decode(json.loads(raw)["body"]))
    return body[0][0]


def _lane_tasks(broker, queue: str = "webhook.normal") -> list[list[int]]:
    return [_task_ids(raw) for raw in broker.lrange(queue, 0, -1)]


# --- 1. a breaker-held message is not an attempt -----------------------------------------


def test_a_message_the_breaker_held_back_spends_no_attempt_and_goes_later(
    send, webhook, fake_http, settings
):
    settings.TIDINGS_MAX_ATTEMPTS = 1  # before: held once = "gave up after 1 attempts"
    settings.TIDINGS_BREAKER_FAILURES = 1
    breaker_record_failure(webhook)
    [message] = send("hook", ["u1"])

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert (message.state, message.attempts) == ("QUEUED", 0)
    assert message.next_attempt_at > timezone.now()
    assert "circuit open" in message.last_error
    assert fake_http.requests == []
    assert "circuit open" in _events(message, "THROTTLED")[0]

    breaker_reset(webhook)  # the provider is back
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    batch_deliver([message.pk])

    message.refresh_from_db()
    assert (message.state, message.attempts) == ("SENT", 1)


def test_transient_errors_retry_within_the_window_and_fail_after_it(
    send, webhook, fake_http, settings
):
    fake_http.responder = lambda request: Reply(503, {"error": "busy"})
    settings.TIDINGS_RETRY_WINDOW_SECONDS = 600
    young, old = send("hook", ["young", "old"])
    # young has made 5 attempts (the old cap) a minute after queueing: it goes on
    Message.objects.filter(pk=young.pk).update(attempts=5)
    # old was queued longer ago than the window: its next transient error is its last
    Message.objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(seconds=700))

    batch_deliver([young.pk, old.pk])

    young.refresh_from_db()
    old.refresh_from_db()
    assert (young.state, young.attempts) == ("RETRYING", 6)
    assert (old.state, old.attempts) == ("FAILED", 1)
    assert old.last_error.startswith("gave up after 1 attempts")


def test_a_ttl_wins_over_the_retry_schedule(send, webhook, fake_http, settings):
    settings.TIDINGS_RETRY_MAX_SECONDS = 300  # Retry-After is honoured up to this
    fake_http.responder = lambda request: Reply(429, {}, {"Retry-After": "120"})
    [message] = send("hook", ["u1"], ttl=60)
    expires_at = timezone.now() + timedelta(seconds=2)
    Message.objects.filter(pk=message.pk).update(expires_at=expires_at)

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "RETRYING"
    # due when it expires (within the 1 s retry bucket), not in two minutes
    assert message.next_attempt_at <= expires_at + timedelta(seconds=1)
    time.sleep(max(0.0, (message.next_attempt_at - timezone.now()).total_seconds()))
    batch_deliver([message.pk])
    assert Message.objects.get(pk=message.pk).state == "EXPIRED"
    assert len(fake_http.requests) == 1


# --- 2. the sweeper takes an abandoned message once ---------------------------------------


def test_two_sweeps_re_enqueue_an_abandoned_message_once(
    send, webhook, broker, django_capture_on_commit_callbacks
):
    [message] = send("hook", ["u1"])
    broker.flushdb()
    Message.objects.filter(pk=message.pk).update(
        state="SENDING",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    # its worker wrote the dispatch (the step before the provider call), then died
    MessageEvent.objects.create(
        message=message, state="SENDING", at=timezone.now(), detail="attempt 1 via x"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 1
        assert messages_requeue_stuck() == 0

    message.refresh_from_db()
    assert (message.state, message.claim_token, message.lease_expires_at) == ("QUEUED", None, None)
    requeued = [d for d in _events(message, "QUEUED") if d.startswith("re-enqueued")]
    assert len(requeued) == 1 and "may have reached the provider" in requeued[0]
    assert len(_lane_tasks(broker)) == 1
    batch_deliver([message.pk])
    assert Message.objects.get(pk=message.pk).state == "SENT"


# --- 3. a lost task is re-published whatever the lane's backlog ---------------------------


def test_a_lost_task_is_republished_even_while_its_lane_has_a_backlog(
    send, webhook, broker, settings, django_capture_on_commit_callbacks
):
    settings.TIDINGS_STUCK_AFTER_SECONDS = 60
    [lost, waiting] = send("hook", ["lost", "waiting"])
    broker.flushdb()  # the task died with its worker ...
    broker.rpush("webhook.normal", b"{}")  # ... while other traffic is queued on the lane
    Message.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(seconds=61))

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 1  # only the one past the bound
        assert messages_requeue_stuck() == 0

    assert broker.llen("webhook.normal") == 2
    [task] = [_task_ids(raw) for raw in broker.lrange("webhook.normal", 0, 0)]
    assert task == [lost.pk]
    batch_deliver(task)
    assert Message.objects.get(pk=lost.pk).state == "SENT"


def test_messages_the_broker_refused_are_republished_at_the_next_sweep(
    send, webhook, broker, settings, django_capture_on_commit_callbacks
):
    settings.TIDINGS_STUCK_AFTER_SECONDS = 300
    [message] = send("hook", ["u1"])
    broker.flushdb()
    # the publish after commit failed (Redis down): the pipeline put it back to ACCEPTED
    Message.objects.filter(pk=message.pk).update(
        state="ACCEPTED", updated_at=timezone.now() - timedelta(seconds=31)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 1

    assert _lane_tasks(broker) == [[message.pk]]


# --- 7 (defect 7). events only for rows the sweeper changed -------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_message_that_moves_on_while_the_sweeper_runs_gets_no_event(
    send, webhook, broker, settings
):
    settings.TIDINGS_STUCK_AFTER_SECONDS = 60
    [message] = send("hook", ["u1"])
    broker.flushdb()  # its task is lost: the sweeper's business
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(seconds=61))
    locked = threading.Event()

    def worker_claims_it() -> None:
        # a worker's claim holds the row while the sweeper looks at it, then moves it on
        try:
            with transaction.atomic():
                Message.objects.select_for_update().get(pk=message.pk)
                locked.set()
                time.sleep(1.0)
                Message.objects.filter(pk=message.pk).update(
                    state="SENDING", lease_expires_at=timezone.now() + timedelta(seconds=60)
                )
        finally:
            connection.close()

    claimer = threading.Thread(target=worker_claims_it)
    claimer.start()
    assert locked.wait(10)
    messages_requeue_stuck()
    claimer.join()

    assert Message.objects.get(pk=message.pk).state == "SENDING"
    assert not [d for d in _events(message) if d.startswith("re-enqueued")]


# --- 4. Redis trouble around a provider call ----------------------------------------------


def test_a_provider_call_with_the_breakers_redis_down_is_recorded_sent(
    send, webhook, fake_http, settings
):
    [message] = send("hook", ["u1"])
    settings.TIDINGS_RULES = []  # the rules' own Redis use is not what this is about
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the breaker's Redis is unreachable

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert (message.state, message.claim_token) == ("SENT", None)
    assert len(fake_http.requests) == 1
    webhook.refresh_from_db()
    assert webhook.last_success_at is not None  # the database half of health still ran


# --- 6 (defect 6). retries due together share a task --------------------------------------


def test_retries_of_one_batch_are_published_as_a_few_tasks(
    send, webhook, fake_http, broker, settings
):
    settings.TIDINGS_RETRY_BASE_SECONDS = 4  # first retry in 2..4 s: three 1 s buckets at most
    settings.TIDINGS_BREAKER_FAILURES = 1000  # every message reaches the provider
    fake_http.responder = lambda request: Reply(503, {"error": "busy"})
    messages = send("hook", [f"u{i}" for i in range(40)])
    broker.flushdb()

    started = time.monotonic()
    batch_deliver([m.pk for m in messages])
    elapsed = time.monotonic() - started

    assert len(fake_http.requests) == 40
    tasks = _lane_tasks(broker)
    # due between start + 2 s and end + 4 s: one task per 1 s bucket (it was one per message)
    assert len(tasks) <= min(10, elapsed + 3), (len(tasks), elapsed)
    assert sorted(pk for ids in tasks for pk in ids) == [m.pk for m in messages]
    for row in Message.objects.filter(pk__in=[m.pk for m in messages]):
        assert row.state == "RETRYING"
        assert row.next_attempt_at.microsecond == 0  # on a bucket boundary


# --- the killed-worker window: the lease is renewed while a live worker sends ------------


@pytest.mark.django_db(transaction=True)
def test_a_slow_batch_keeps_its_lease_while_its_worker_lives(send, webhook, fake_http, settings):
    settings.TIDINGS_CLAIM_LEASE_SECONDS = 1
    messages = send("hook", [f"u{i}" for i in range(8)])
    ids = [m.pk for m in messages]
    expired: list[int] = []

    def slow(request):
        # what a sweeper would see now: claimed messages whose lease has run out
        expired.extend(
            Message.objects.filter(
                id__in=ids, state="SENDING", lease_expires_at__lt=timezone.now()
            ).values_list("id", flat=True)
        )
        connection.close()
        time.sleep(0.3)
        return Reply(200, {})

    fake_http.responder = slow

    batch_deliver(ids)

    assert expired == []
    assert set(Message.objects.filter(id__in=ids).values_list("state", flat=True)) == {"SENT"}


def test_a_reclaim_counts_the_attempt_only_of_what_the_stopped_worker_dispatched(
    send, webhook, fake_http
):
    # a worker claims two messages, records the dispatch of one (its SENDING step, the
    # last write before a provider call) and dies; their lease runs out
    [dispatched, waiting] = send("hook", ["u1", "u2"])
    now = timezone.now()
    assert len(messages_claim([dispatched.pk, waiting.pk], now)[0]) == 2
    MessageEvent.objects.create(
        message=dispatched, state="SENDING", at=now, detail="attempt 1 via hook (webhook)"
    )
    Message.objects.filter(pk__in=[dispatched.pk, waiting.pk]).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    # the redelivered task takes both back
    batch_deliver([dispatched.pk, waiting.pk])

    dispatched.refresh_from_db()
    waiting.refresh_from_db()
    # the one that may have reached the provider spent an attempt and its trace says so;
    # the other is sent once, as if nothing had happened
    assert (dispatched.state, dispatched.attempts) == ("SENT", 2)
    assert (waiting.state, waiting.attempts) == ("SENT", 1)
    [dispatched_reclaim] = [d for d in _events(dispatched, "QUEUED") if "reclaimed" in d]
    [waiting_reclaim] = [d for d in _events(waiting, "QUEUED") if "reclaimed" in d]
    assert "may have reached the provider" in dispatched_reclaim
    assert "may have reached the provider" not in waiting_reclaim
    assert _events(dispatched, "SENDING")[-1].startswith("attempt 2 via hook")
    assert _events(waiting, "SENDING") == ["attempt 1 via hook (webhook)"]
    assert len(fake_http.requests) == 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_stalled_past_its_lease_does_not_send_what_another_worker_took(
    send, webhook, fake_http, settings
):
    settings.TIDINGS_CLAIM_LEASE_SECONDS = 1
    webhook.config = {**webhook.config, "batch_size": 2}  # two calls of two
    webhook.save()
    messages = send("hook", ["u1", "u2", "u3", "u4"])
    ids = [m.pk for m in messages]
    taken: list = []

    def stalls(request):
        # while the first call hangs past the lease, another worker claims the other two
        if not taken:
            later = timezone.now() + timedelta(seconds=1.5)
            claimed, token = messages_claim(ids[2:], later)
            taken.extend((m.id, token) for m in claimed)
            connection.close()
            time.sleep(0.4)  # a third of the lease: the batch renews before its next call
        return Reply(200, {})

    fake_http.responder = stalls

    batch_deliver(ids)

    assert len(taken) == 2
    assert len(fake_http.requests) == 1  # the second call was not made
    rows = Message.objects.filter(id__in=ids).order_by("id")
    assert [m.state for m in rows] == ["SENT", "SENT", "SENDING", "SENDING"]
    assert [m.attempts for m in rows] == [1, 1, 0, 0]
    # the other worker's claim is untouched: those two are its to send
    assert [(m.id, m.claim_token) for m in rows[2:]] == taken


def test_flow_control_deferrals_of_one_batch_share_a_few_tasks(
    send, webhook, fake_http, broker, django_capture_on_commit_callbacks
):
    # 40 messages against 20/s: 39 wait 0.05 .. 2 s. Their tasks were one per 0.1 s of
    # delay (about 20); now one per 1 s bucket.
    FlowLimit.objects.create(account=webhook, rate_per_second=20, burst=1)
    messages = send("hook", [f"u{i}" for i in range(40)])
    broker.flushdb()

    with django_capture_on_commit_callbacks(execute=True):
        batch_deliver([m.pk for m in messages])

    tasks = _lane_tasks(broker)
    assert sum(len(ids) for ids in tasks) == 39
    assert len(tasks) <= 4, [len(ids) for ids in tasks]
