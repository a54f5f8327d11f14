"""`tidings doctor` against real processes (PostgreSQL, Redis, a Celery worker for every
queue, celery beat): all OK while they run; with beat stopped, the beat line fails, names
beat, and the command exits 1. Also the other subcommands' output."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from notify.doctor import FAIL, OK, doctor_checks
from notify.heartbeat import BEAT_KEY
from notify.lanes import all_lanes
from tests.e2e.conftest import ROOT, start_worker, wait_until  # noqa: F401
from tracking.models import Message


def _doctor() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("tidings", "doctor", stdout=out)
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def beat(transactional_db, tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "warning",
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def test_doctor_all_ok_then_names_beat_when_it_stops(settings, start_worker, beat):  # noqa: F811
    settings.TIDINGS_BEAT_HEARTBEAT_SECONDS = 2  # beat ticks at least every 5 s
    cache.delete(BEAT_KEY)
    start_worker(queues=",".join([*all_lanes(), "housekeeping", "campaigns"]))

    assert wait_until(lambda: cache.get(BEAT_KEY) is not None, timeout=60)
    code, report = _doctor()
    assert code == 0, report
    assert all(line.startswith("OK") for line in report.splitlines()[1:-1]), report
    assert report.splitlines()[-1] == "verdict: OK"

    beat.send_signal(signal.SIGTERM)
    beat.wait(20)
    assert wait_until(
        lambda: {c.name: c.verdict for c in doctor_checks()}["beat"] == FAIL, timeout=30
    )
    code, report = _doctor()
    assert code == 1
    assert report.splitlines()[-1] == "verdict: FAIL (beat)", report
    beat_line = next(line for line in report.splitlines() if line.split()[1] == "beat")
    assert beat_line.startswith("FAIL") and "is celery beat running?" in beat_line
    others = {c.name: c.verdict for c in doctor_checks() if c.name != "beat"}
    assert set(others.values()) == {OK}, others


def test_doctor_fails_workers_and_beat_when_nothing_runs(transactional_db, broker):
    cache.delete(BEAT_KEY)

    verdicts = {c.name: c.verdict for c in doctor_checks()}

    assert verdicts["database"] == OK and verdicts["broker"] == OK and verdicts["redis"] == OK
    assert verdicts["beat"] == FAIL and verdicts["workers"] == FAIL


def test_trace_prints_a_timeline_and_lanes_the_backlog(
    transactional_db, api, email_template, broker
):
    sent = api.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": ["a@example.com"], "variables": {"name": "A", "code": "1"}},
        format="json",
    )  # fmt: skip
    message = Message.objects.get(message_id=sent.json()["messages"][0]["message_id"])
    out = io.StringIO()

    call_command("tidings", "trace", str(message.message_id), stdout=out)

    lines = out.getvalue().splitlines()
    assert f"message {message.message_id}" in lines[0] and "to a@example.com" in lines[0]
    # On its lane, no worker took it yet: both steps are derived from the row.
    assert [line.split()[2] for line in lines[1:]] == ["ACCEPTED", "QUEUED"]
    assert lines[1].split()[1] == "+0.000s"

    out = io.StringIO()
    call_command("tidings", "lanes", stdout=out)
    email_normal = next(line for line in out.getvalue().splitlines() if line.startswith("email.normal "))  # fmt: skip
    assert email_normal.split()[1] == "1"  # the batch waits in its lane (no worker here)
