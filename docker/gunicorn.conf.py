"""gunicorn settings for the image (docker/Dockerfile)."""

import os
import uuid

from prometheus_client import multiprocess

bind = f"0.0.0.0:{os.environ.get('TIDINGS_HTTP_PORT', '8000')}"
workers = int(os.environ.get("TIDINGS_WEB_WORKERS", "4"))
timeout = 120
# SIGTERM: stop accepting, let requests in flight finish for this long (compose waits 40 s).
graceful_timeout = 30
accesslog = "-"

# The workers' metrics files are named "<instance>-<pid>" (config/multiproc.py); the master
# draws the instance so it can name a dead worker's files.
INSTANCE = os.environ.setdefault("TIDINGS_METRICS_INSTANCE", uuid.uuid4().hex[:12])


def child_exit(server, worker):
    # Multiprocess metrics: a dead worker's live gauges must not be merged any more.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(f"{INSTANCE}-{worker.pid}")
