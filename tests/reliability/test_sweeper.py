"""Issue 9, R4 of `make chaos`: the sweeper re-published due retries that were only queued
behind a moving lane (late, not lost): up to 4 "re-enqueued" events per message. It must
tell a lost task from a late one (notify/lane_progress.py), and still re-publish a lost one
whatever the lane's backlog. Both tests failed on the code before the fix."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.providers.fakes_http import Reply
from notify.lane_progress import lane_progress, lane_progress_record
from notify.queueing import enqueue_delivery
from notify.sweeper import messages_requeue_stuck
from tests.e2e.conftest import final_states, wait_until
from tests.reliability.test_consumer import _events, _lane_tasks
from tracking.models import Message, MessageEvent

LANE = "webhook.normal"


def _requeued(message: Message) -> list[str]:
    return [d for d in _events(message, "QUEUED") if d.startswith("re-enqueued")]


def test_a_due_retry_behind_a_moving_lane_is_late_but_a_lost_one_is_republished(
    send, webhook, broker, settings, django_capture_on_commit_callbacks
):
    settings.TIDINGS_RELEASE_GRACE_SECONDS = 30
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 5  # the sweeper's publish slack: 1 + 5 + 5 s
    [late, lost] = send("hook", ["late", "lost"])
    broker.flushdb()
    now = timezone.now()
    # Both were retried and are due since long before the grace. The late one's task is
    # still queued behind the lane's backlog: the lane has only started tasks that entered
    # up to 50 s ago, and the late retry's task entered 60 s ago at the earliest (+ slack).
    Message.objects.filter(pk=late.pk).update(
        state="RETRYING",
        updated_at=now - timedelta(seconds=65),
        next_attempt_at=now - timedelta(seconds=60),
    )
    enqueue_delivery([late.pk], "webhook", "normal")
    # The lost one was due 100 s ago: its task entered long before what the lane started.
    Message.objects.filter(pk=lost.pk).update(
        state="RETRYING",
        updated_at=now - timedelta(seconds=105),
        next_attempt_at=now - timedelta(seconds=100),
    )
    lane_progress_record(LANE, (now - timedelta(seconds=50)).timestamp())  # a worker started it

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 1  # before: 2, the late one too
        assert messages_requeue_stuck() == 0

    assert _requeued(late) == []
    [why] = _requeued(lost)
    assert "its lane has started tasks queued after it" in why
    assert _lane_tasks(broker) == [[lost.pk], [late.pk]]  # newest first

    # A lane that does not move at all: the late one goes again at the bound.
    settings.TIDINGS_LOST_TASK_MAX_SECONDS = 55
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 1
    assert len(_requeued(late)) == 1


@pytest.mark.e2e
def test_retries_queued_behind_a_busy_lane_are_not_re_enqueued(
    api, webhook, fake_http, start_worker, settings
):
    # Every first attempt fails, slowly, on one worker process: each retry waits behind
    # the rest of the first attempts, seconds past its due time and its grace.
    settings.TIDINGS_RELEASE_GRACE_SECONDS = 1
    settings.TIDINGS_STUCK_AFTER_SECONDS = 2
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 1
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def first_attempt_fails(request) -> Reply:
        time.sleep(0.1)
        with lock:
            calls[request.json["message_id"]] += 1
            first = calls[request.json["message_id"]] == 1
        return Reply(503, {"error": "busy"}) if first else Reply(200, {})

    fake_http.responder = first_attempt_fails
    start_worker(
        queues=LANE,
        concurrency=1,
        TIDINGS_RETRY_BASE_SECONDS=0.2,
        TIDINGS_BREAKER_FAILURES=1000,
        TIDINGS_PROVIDER_TIMEOUT_SECONDS=1,
    )
    sent_from = time.time()
    ids = []
    for start in range(0, 12, 3):  # 4 tasks of 3 messages
        response = api.post(
            "/api/v1/send",
            {
                "template": "hook",
                "receivers": [f"u{i}" for i in range(start, start + 3)],
                "variables": {"name": "x"},
            },
            format="json",
        )
        ids += [m["message_id"] for m in response.json()["messages"]]

    def settled() -> bool:
        messages_requeue_stuck()  # beat, often
        return final_states(ids).get("SENT", 0) == len(ids)

    assert wait_until(settled, timeout=60, interval=0.3), final_states(ids)
    requeued = MessageEvent.objects.filter(
        message__message_id__in=ids, state="QUEUED", detail__startswith="re-enqueued"
    )
    assert list(requeued.values_list("detail", flat=True)) == []  # before: a dozen
    assert sorted(calls.values()) == [2] * len(ids)
    assert lane_progress([LANE])[LANE][0] >= sent_from  # the worker marked the lane's progress
