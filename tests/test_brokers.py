"""The broker-neutral helpers, on whichever broker the run uses (Redis, or RabbitMQ in
`make test`'s second pass)."""

from __future__ import annotations

import base64
import json
import socket
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from notify.brokers import broker_kind, broker_ping, queue_depth, queues_purge
from notify.queueing import enqueue_delivery, lane_backlog

pytestmark = pytest.mark.broker


def test_depth_counts_waiting_tasks_and_purge_drops_them(broker, settings):
    settings.TIDINGS_BATCH_SIZE = 1

    enqueue_delivery([101, 102, 103], "email", "low")

    assert queue_depth("email.low") == 3
    assert lane_backlog("email.low") == 3
    assert broker.llen("email.low") == 3
    assert queues_purge(["email.low", "no.such-lane"]) == 3
    assert not queue_depth("email.low")  # 0, or None where an empty queue is no queue (Redis)


def test_an_unknown_queue_has_no_depth(broker):
    assert queue_depth("no.such-lane") is None


def test_ping_answers_and_fails_fast_on_a_dead_broker():
    broker_ping(2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    parts = urlsplit(settings.CELERY_BROKER_URL)
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    dead = urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{port}"))

    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - kombu/redis/amqp each have their own class
        broker_ping(1, dead)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6379/0", "redis"),
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp"),
        ("pyamqp://h//", "amqp"),
        ("filesystem://", "filesystem"),
    ],
)
def test_broker_kind(url, kind):
    assert broker_kind(url) == kind


def test_a_delivery_task_shows_its_batch_by_size_not_every_id(broker, settings):
    if broker_kind() != "redis":
        pytest.skip("read back from the Redis list; the header is Celery's on every broker")
    settings.TIDINGS_BATCH_SIZE = 500

    enqueue_delivery(list(range(1, 601)), "email", "low")

    tasks = [json.loads(broker.rpop("email.low")) for _ in range(2)]
    assert [t["headers"]["argsrepr"] for t in tasks] == [
        "[<500 message ids>]",
        "[<100 message ids>]",
    ]
    args, _kwargs, _embed = json.loads(base64.b64decode(tasks[1]["body"]))
    assert args == [list(range(501, 601))]
