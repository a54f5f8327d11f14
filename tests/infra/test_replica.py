"""Traces, receiver lookups and stats read from a real streaming replica when
DATABASE_REPLICA_URL is set, and fall back to the primary for a row not replicated yet."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.pg_replica import replica_pair

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_lag_tolerant_reads_go_to_the_replica():
    with replica_pair() as pair:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": pair.url(pair.primary_port),
            "DATABASE_REPLICA_URL": pair.url(pair.replica_port),
            # Nothing is consumed here: publishing goes to an in-memory broker.
            "CELERY_BROKER_URL": "memory://",
        }
        run = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "tests.infra.replica_check",
                str(pair.primary_port),
                str(pair.replica_port),
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "replica reads OK" in run.stdout
