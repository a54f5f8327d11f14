"""Bytes per message: what one message costs PostgreSQL on disk and in WAL over its life.

Sends N receivers through the real access pipeline (10k per call, as P1) and then delivers
them with the real consumer (`batch_deliver`, sandbox provider, in this process), measuring
after each phase the WAL written (pg_current_wal_lsn) and the size of every tracking table
with its indexes. docs/scaling.md derives database capacity from these figures.

Uses its own database (tidings_bench_storage) and an in-memory broker; drops nothing else.
Options: --messages (default 100,000).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tidings_bench_storage"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "CELERY_BROKER_URL": "memory://",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"),
        "TIDINGS_LOG_LEVEL": "WARNING",
    }
)
sys.path.insert(0, str(ROOT))

TABLES = ("tracking_message", "tracking_messageevent", "notify_sendrequest")


def _psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(
        ["psql", f"{PG}/{database}", "-tAc", sql], capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _psql(f"CREATE DATABASE {DB_NAME}")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from channels_app.models import ChannelAccount
    from notify.delivery import batch_deliver
    from notify.pipeline import Item, SendContext, message_send
    from notify.services import app_create
    from templates_app.models import MessageTemplate
    from tracking.models import Message

    call_command("migrate", verbosity=0)
    app, _ = app_create("storage-bench")
    ChannelAccount.objects.create(app=app, name="sandbox", channel="email", provider="sandbox")
    MessageTemplate.objects.create(
        app=app,
        name="Receipt",
        code="receipt",
        channel="email",
        receiver_type="email",
        content={"subject": "Order {$order}", "text": "Hello {$name}, order {$order} shipped."},
    )

    def lsn() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
            return int(cursor.fetchone()[0])

    def sizes() -> dict[str, int]:
        return {
            # A partitioned table holds nothing itself: its partitions (and their indexes) do.
            table: int(
                _psql(
                    "SELECT coalesce(sum(pg_total_relation_size(relid)), 0)"
                    f" FROM pg_partition_tree('{table}')",
                    DB_NAME,
                )
            )
            for table in TABLES
        }

    n = args.messages
    before_wal, started = lsn(), time.monotonic()
    for start in range(0, n, 10_000):
        count = min(10_000, n - start)
        message_send(
            SendContext(
                app=app,
                template_ref="receipt",
                items=[
                    Item(
                        f"user{start + i}@example.com",
                        {"name": "Ada", "order": str(start + i)},
                        "",
                        i,
                    )
                    for i in range(count)
                ],
                respond=False,
                pre_approved=True,
            )
        )
    ingest_wal, ingest_seconds = lsn() - before_wal, time.monotonic() - started
    after_ingest = sizes()

    before_wal, started = lsn(), time.monotonic()
    ids = list(Message.objects.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), 500):
        batch_deliver(ids[start : start + 500])
    deliver_wal, deliver_seconds = lsn() - before_wal, time.monotonic() - started
    after_delivery = sizes()
    sent = Message.objects.filter(state="SENT").count()

    print(f"messages: {n:,} (SENT {sent:,})")
    print(
        f"ingest:   {ingest_wal / n:,.0f} WAL bytes/message "
        f"({ingest_seconds:.1f} s in-process, {n / ingest_seconds:,.0f} receivers/s)"
    )
    print(
        f"delivery: {deliver_wal / n:,.0f} WAL bytes/message "
        f"(claim, SENDING, SENT; {deliver_seconds:.1f} s, {n / deliver_seconds:,.0f} msg/s in one process)"
    )
    for table in TABLES:
        print(
            f"{table:24} {after_ingest[table] / n:8,.0f} B/message after ingest, "
            f"{after_delivery[table] / n:8,.0f} after delivery (with indexes)"
        )
    connection.close()
    _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
