"""Prometheus multiprocess files that stay apart across containers.

prometheus_client names each process's sample file after its pid. In docker compose, web and
every worker share PROMETHEUS_MULTIPROC_DIR but each container has its own pid namespace, so
gunicorn's worker 7 and a Celery pool child 7 would write the same mmap'ed file and corrupt
each other's samples. Files are named "<instance>-<pid>" instead, where the instance token is
drawn once per container (TIDINGS_METRICS_INSTANCE, inherited by forked and spawned children,
which differ by pid; docker/gunicorn.conf.py sets it in gunicorn's master)."""

from __future__ import annotations

import os
import uuid

from prometheus_client import values

INSTANCE = os.environ.setdefault("TIDINGS_METRICS_INSTANCE", uuid.uuid4().hex[:12])


def process_identifier() -> str:
    return f"{INSTANCE}-{os.getpid()}"


def multiproc_setup() -> None:
    """Called before any metric is created (config/__init__.py)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)
