"""End-to-end fixtures: real Celery worker processes against the test PostgreSQL database
and the test Redis broker. Tests here use `transactional_db` so the worker sees commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection

from notify.lanes import all_lanes
from tracking.models import Message

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Worker:
    def __init__(
        self, env: dict[str, str], queues: str, concurrency: int, lanes: str | None = None
    ):
        select = ["--lanes", lanes] if lanes else ["-Q", queues]
        cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", *select, "-c", str(concurrency),
               "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"e2e-{time.monotonic_ns()}@%h"]  # fmt: skip
        # A session of its own, so a SIGKILL reaches the pool children too.
        self.process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            text=True,
        )  # noqa: S603
        self.log: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(60):
            self.stop()
            raise RuntimeError("worker did not start:\n" + "".join(self.log[-40:]))

    def _read(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)
            if " ready." in line:
                self.ready.set()

    def kill(self) -> None:
        """SIGKILL the worker and its pool children: nothing gets to clean up."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(transactional_db, broker) -> Callable[..., Worker]:
    """Start real worker processes on the test database; all are stopped after the test."""
    workers: list[Worker] = []
    db = connection.settings_dict

    def start(
        queues: str | None = None,
        concurrency: int = 2,
        lanes: str | None = None,
        **overrides: object,
    ) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONPATH": ROOT,
        }
        env.update({key: str(value) for key, value in overrides.items()})
        worker = Worker(
            env,
            queues or ",".join([*all_lanes(), settings.TIDINGS_HOUSEKEEPING_QUEUE]),
            concurrency,
            lanes,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    connection.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 60, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def final_states(message_ids) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in Message.objects.filter(message_id__in=message_ids).values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts
