"""`tidings doctor`: one line per part of a running Tidings, each with a verdict.

OK: works. WARN: works, but look at it. FAIL: broken (the command exits non-zero)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from channels_app.providers.registry import registered_channels
from config.celery_app import app as celery_app
from config.probes import redis_check
from notify.heartbeat import beat_heartbeat_age, queue_consumers
from notify.queueing import lane

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str
    detail: str


def check_database() -> Check:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = MigrationExecutor(connection).migration_plan(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return Check("database", FAIL, f"{connection.vendor}: {exc}")
    if pending:
        return Check("database", FAIL, f"{len(pending)} migration(s) not applied: run migrate")
    return Check("database", OK, f"{connection.vendor}, migrations applied")


def check_broker() -> Check:
    url = celery_app.conf.broker_url or ""
    scheme = url.split("://", 1)[0] or "none"
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # noqa: BLE001
        return Check("broker", FAIL, f"{scheme}: {exc}")
    return Check("broker", OK, f"{scheme} reachable")


def check_redis() -> Check:
    if not settings.REDIS_URL:
        return Check("redis", OK, "not configured (embedded mode: in-process rule state)")
    try:
        redis_check(3.0)
    except Exception as exc:  # noqa: BLE001
        return Check("redis", FAIL, str(exc))
    return Check("redis", OK, "PONG")


def check_beat() -> Check:
    interval = settings.TIDINGS_BEAT_HEARTBEAT_SECONDS
    limit = 3 * interval + 5
    try:
        age = beat_heartbeat_age()
    except Exception as exc:  # noqa: BLE001
        return Check("beat", FAIL, f"cannot read the heartbeat: {exc}")
    if age is None:
        return Check("beat", FAIL, "no heartbeat yet: is celery beat running?")  # fmt: skip
    if age > limit:
        return Check("beat", FAIL, f"last heartbeat {age:.0f}s ago (expected every {interval}s): is celery beat running?")  # fmt: skip
    return Check("beat", OK, f"heartbeat {age:.0f}s ago")


def consumers_by_queue(queues: list[str]) -> tuple[dict[str, list[str]], str]:
    """Ask the workers (remote control, 1 s) which queues they consume; brokers without
    remote control (make run's filesystem broker) use the workers' cache heartbeats."""
    if getattr(settings, "CELERY_WORKER_ENABLE_REMOTE_CONTROL", True):
        replies = celery_app.control.inspect(timeout=1.0).active_queues() or {}
        found: dict[str, list[str]] = {queue: [] for queue in queues}
        for worker, consumed in replies.items():
            for queue in consumed:
                found.setdefault(queue["name"], []).append(worker)
        return found, "ping"
    return queue_consumers(queues), "heartbeat"


def check_workers() -> list[Check]:
    groups = {
        str(channel): [lane(channel, p) for p in settings.TIDINGS_PRIORITIES]
        for channel in registered_channels()
    }
    groups["housekeeping"] = [settings.TIDINGS_HOUSEKEEPING_QUEUE]
    groups["campaigns"] = [settings.TIDINGS_CAMPAIGN_QUEUE]
    try:
        found, how = consumers_by_queue([q for queues in groups.values() for q in queues])
    except Exception as exc:  # noqa: BLE001
        return [Check("workers", FAIL, f"cannot ask the workers: {exc}")]
    if not any(found.values()):
        return [Check("workers", FAIL, f"no worker answered ({how}): start celery workers")]
    checks = []
    for group, queues in groups.items():
        idle = [q for q in queues if not found.get(q)]
        hosts = sorted({h for q in queues for h in found.get(q, [])})
        name = f"workers {group}" + (".*" if len(queues) > 1 else "")
        if not idle:
            checks.append(Check(name, OK, f"{len(hosts)} worker(s): {', '.join(hosts)}"))
        elif group in ("housekeeping", "campaigns"):
            checks.append(Check(name, FAIL, f"no worker consumes {', '.join(idle)}"))
        else:
            # A deployment may not use every channel: a warning, not a failure.
            checks.append(Check(name, WARN, f"no worker consumes {', '.join(idle)}"))
    return checks


def check_clock() -> Check:
    connection = connections[DEFAULT_DB_ALIAS]
    query = {
        "postgresql": "SELECT EXTRACT(EPOCH FROM clock_timestamp())",
        "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
    }.get(connection.vendor)
    if query is None:
        return Check("clock", WARN, f"cannot read the clock of {connection.vendor}")
    try:
        before = time.time()
        with connection.cursor() as cursor:
            cursor.execute(query)
            db_time = float(cursor.fetchone()[0])
        after = time.time()
    except Exception as exc:  # noqa: BLE001
        return Check("clock", FAIL, str(exc))
    skew = db_time - (before + after) / 2
    limit = settings.TIDINGS_CLOCK_SKEW_MAX_SECONDS
    verdict = OK if abs(skew) <= max(limit, (after - before)) else FAIL
    return Check("clock", verdict, f"database clock {skew:+.3f}s from this host (max {limit}s)")


def _production() -> bool:
    return settings.TIDINGS_ENVIRONMENT == "production"


def check_public_url() -> Check:
    url = settings.TIDINGS_PUBLIC_URL
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Check("public URL", FAIL, f"TIDINGS_PUBLIC_URL={url!r} is not an http(s) URL")
    local = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if _production() and (local or parsed.scheme != "https"):
        return Check("public URL", WARN, f"{url}: receivers and providers cannot reach it")
    return Check("public URL", OK, url)


def check_egress() -> Check:
    allowlist = getattr(settings, "TIDINGS_EGRESS_ALLOWLIST", None)
    if allowlist is None:
        allowlist = [h for h in os.environ.get("TIDINGS_EGRESS_ALLOWLIST", "").split(",") if h]
    if not allowlist:
        verdict = WARN if _production() else OK
        return Check("egress allowlist", verdict, "not set (provider calls may go to any host)")
    return Check("egress allowlist", OK, ", ".join(allowlist))


def doctor_checks() -> list[Check]:
    return [
        check_database(),
        check_broker(),
        check_redis(),
        check_beat(),
        *check_workers(),
        check_clock(),
        check_public_url(),
        check_egress(),
    ]


def doctor_report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    now = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"tidings doctor, {now}"]
    lines += [f"{c.verdict:<4}  {c.name:<{width}}  {c.detail}" for c in checks]
    failed = [c.name for c in checks if c.verdict == FAIL]
    lines.append(f"verdict: FAIL ({', '.join(failed)})" if failed else "verdict: OK")
    return "\n".join(lines)
