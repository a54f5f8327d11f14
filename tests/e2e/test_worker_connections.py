"""A worker process keeps its PostgreSQL connection from task to task, and replaces one that
broke before a task uses it (config/celery_app.py). Celery's Django fixup alone would open
a new backend for every task: a fork, an authentication and cold catalog caches per batch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction

from channels_app.models import ChannelAccount
from notify.tasks import deliver_batch
from templates_app.models import MessageTemplate
from tests.e2e.conftest import final_states, wait_until
from tracking.models import Message

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _sessions_started() -> int:
    """Sessions PostgreSQL has counted on the test database (a backend reports its own
    within a second, or when it exits)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _send_and_wait(api, receiver: str) -> None:
    response = api.post(
        "/api/v1/send",
        {"template": "hook", "receivers": [receiver], "variables": {"name": "x"}},
        format="json",
    )
    assert response.status_code == 202, response.content
    message_id = response.json()["messages"][0]["message_id"]
    assert wait_until(lambda: final_states([message_id]) == {"SENT": 1}, timeout=30)


def test_a_worker_keeps_its_connection_across_tasks_and_replaces_a_broken_one(
    api, tenant, fake_http, start_worker
):
    account = ChannelAccount.objects.create(
        app=tenant, name="hook", channel="webhook", provider="webhook",
        config={"url": fake_http.url + "/in", "secret": "s"},
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=tenant, name="hook", code="hook", channel="webhook", receiver_type="user_id",
        content={"text": "hello {$name}"}, channel_account=account,
    )  # fmt: skip
    worker = start_worker(queues="webhook.normal", concurrency=1)
    _send_and_wait(api, "first")  # the pool process has connected
    before = _sessions_started()

    for n in range(12):  # one task each, one after another
        _send_and_wait(api, f"u{n}")

    # One per task without the fix (each exits, so each is counted); the pool process's own
    # session may be counted late, in this window.
    assert _sessions_started() - before <= 2

    # PostgreSQL drops every other session of the test database (a restart, a failover, an
    # idle timeout): the next task's first query finds the connection dead and reconnects.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        assert cursor.fetchone()[0] >= 1  # the worker's connection was open
    _send_and_wait(api, "after-terminate")
    log = "".join(worker.log)
    assert "OperationalError" not in log and "InterfaceError" not in log, log[-3000:]
    assert [r.json["receiver"] for r in fake_http.requests].count("after-terminate") == 1


def test_an_eager_task_leaves_the_callers_connection_and_transaction_alone(db):
    """`task.apply()` runs in the caller's process, perhaps inside its transaction: the
    connection handling around tasks must not close that connection."""
    with transaction.atomic():
        Message.objects.exists()
        deliver_batch.apply(args=[[]])
        assert connection.in_atomic_block and not connection.needs_rollback
        assert Message.objects.count() == 0  # the same connection, still usable


def test_a_pool_process_is_connected_and_warm_before_its_first_task(start_worker):
    """notify/preload.py: rules and adapters imported, PostgreSQL connected and the message
    table planned once, as each pool process starts (after Celery closed what it inherited)."""
    worker = start_worker(queues="webhook.high", concurrency=1, TIDINGS_LOG_LEVEL="INFO")

    def warm_backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND query LIKE %s",
                ['%FROM "tracking_message" WHERE "tracking_message"."id" =%-1 LIMIT 1'],
            )
            return cursor.fetchone()[0]

    assert wait_until(lambda: warm_backends() == 1, timeout=20)
    assert wait_until(lambda: "pool process warmed up" in "".join(worker.log), timeout=20)
    line = next(line for line in worker.log if "pool process warmed up" in line)
    assert "0 failed" in line
    # What it loaded is out of the garbage collector's generations (gc.freeze): Django, the
    # apps and every provider are well over 100k objects.
    frozen = int(re.search(r"(\d+) objects frozen", line).group(1))
    assert frozen > 100_000, line


def test_a_web_process_freezes_what_it_loaded():
    """config/wsgi.py: the web process's modules are out of the collector's generations."""
    script = "import gc, config.wsgi; print(gc.get_freeze_count())"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout.strip()) > 100_000, out
