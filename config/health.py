"""Health endpoints.

- `/healthz/live`: the process is up and serving; no I/O, so a slow database never gets a
  healthy web process restarted (liveness probe).
- `/healthz/ready` (and `/healthz`): PostgreSQL, the broker and Redis each answer within
  `TIDINGS_HEALTH_TIMEOUT_SECONDS`; 200 when all do, 503 + Retry-After when one does not
  (readiness probe, load balancer check). Every check is reported with its status and time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from config.probes import database_check, redis_check
from notify.brokers import broker_kind, broker_ping

logger = logging.getLogger(__name__)


def readiness() -> tuple[bool, dict[str, dict]]:
    timeout = settings.TIDINGS_HEALTH_TIMEOUT_SECONDS
    checks: dict[str, Callable[[float], None] | None] = {
        "database": database_check,
        "broker": broker_ping,
        # Without REDIS_URL (`make run`) shared state is in-process: nothing to check.
        "redis": redis_check if settings.REDIS_URL else None,
    }
    report: dict[str, dict] = {}
    for name, check in checks.items():
        if check is None:
            report[name] = {"status": "skipped"}
            continue
        started = time.monotonic()
        try:
            check(timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            # The class only: messages can name hosts, and this endpoint is unauthenticated.
            logger.warning("readiness: %s is down: %s: %s", name, type(exc).__name__, exc)
            report[name] = {"status": "down", "error": type(exc).__name__}
        else:
            report[name] = {"status": "ok"}
        report[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    report["broker"]["kind"] = broker_kind()
    return all(item["status"] != "down" for item in report.values()), report


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    ok, checks = readiness()
    response = JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )
    if not ok:
        response["Retry-After"] = str(settings.TIDINGS_UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response
