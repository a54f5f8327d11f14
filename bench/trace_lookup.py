#!/usr/bin/env python
"""Trace lookup benchmark: GET /api/v1/messages/{id} and GET /api/v1/receivers/{r}/messages
with N message rows (default 10,000,000) in PostgreSQL. Target: p99 <= 50 ms for both.

    .venv/bin/python bench/trace_lookup.py [--rows 10000000] [--events 4] [--lookups 2000]

What it does:
1. Drops and creates its own database (tidings_trace_bench) and builds the schema with
   `migrate` (`--schema models` builds it from the models, like `pytest --no-migrations`,
   for a tree whose migrations are not generated yet).
2. Loads the rows with COPY ... FROM STDIN (text format, 8 MB writes): send requests (one
   per 1,000 messages), messages (one receiver per ~5 messages, ids spread so a receiver's
   messages are scattered over the table as in real traffic, created over 60 days) and
   `--events` trace events per message (ACCEPTED, QUEUED, SENDING, SENT, ...). Secondary
   indexes are dropped during the load and rebuilt after it (faster than maintaining them
   row by row), then ANALYZE.
3. Times lookups through the real API (URL routing, API-key auth, DRF serializers) with
   Django's test client, in this process, against that database: p50/p95/p99 per lookup.
4. Prints EXPLAIN (ANALYZE, BUFFERS) of the SQL each lookup ran, i.e. the indexes used:
   message by id -> tracking_message_message_id_key (message_id, created_at) in each monthly
   partition + the events' message_id index; by receiver -> message_app_receiver (app_id,
   receiver, id) + the same events index. The tables are partitioned by month (PostgreSQL).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/tidings_trace_bench"
K = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: id -> uuid is a bijection that looks random
STATES = ["ACCEPTED", "QUEUED", "SENDING", "SENT", "DELIVERED", "READ", "CLICKED"]


def message_uuid(pk: int) -> uuid.UUID:
    return uuid.UUID(int=(pk * K) % (1 << 128))


def receiver_of(pk: int, receivers: int) -> str:
    return f"user{(pk * 7919) % receivers:09d}@example.com"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="message rows")
    parser.add_argument("--events", type=int, default=4, help="trace events per message")
    parser.add_argument("--per-receiver", type=int, default=5, help="messages per receiver")
    parser.add_argument("--lookups", type=int, default=2000, help="timed lookups of each kind")
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--schema", choices=["migrate", "models"], default="migrate")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    return parser.parse_args()


def recreate_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


class DisableMigrations:
    def __contains__(self, item: str) -> bool:
        return True

    def __getitem__(self, item: str) -> None:
        return None


def build_schema(kind: str) -> None:
    from django.conf import settings
    from django.core.management import call_command

    if kind == "models":
        settings.MIGRATION_MODULES = DisableMigrations()
        call_command("migrate", run_syncdb=True, verbosity=0)
    else:
        call_command("migrate", verbosity=0)


def _text(value) -> str:
    """A value in COPY text format."""
    import json

    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value, separators=(",", ":"))
    elif isinstance(value, datetime):
        value = value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def column_plan(model, known: dict) -> list[tuple[str, object]]:
    """(column, value-or-callable) for every concrete column; columns other engineers add
    later get their default (or NULL) so the loader keeps working."""
    plan = []
    for field in model._meta.concrete_fields:
        column = field.column
        if column not in known and field.has_db_default():
            continue  # the database fills it in
        if column in known:
            plan.append((column, known[column]))
        elif field.null:
            plan.append((column, None))
        else:
            plan.append((column, field.get_default()))
    return plan


def copy_rows(cursor, table: str, plan, ids: range, label: str) -> None:
    columns = ", ".join(f'"{c}"' for c, _ in plan)
    # Constants are formatted once; only the per-row columns are formatted per row.
    cells = [v if callable(v) else _text(v) for _, v in plan]
    started = time.monotonic()
    with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
        buffer = io.StringIO()
        for n, pk in enumerate(ids, 1):
            buffer.write("\t".join(_text(c(pk)) if callable(c) else c for c in cells))
            buffer.write("\n")
            if n % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    print(f"  {label}: {len(ids):,} rows in {time.monotonic() - started:.1f}s", flush=True)


def copy_events(cursor, table: str, rows: int, events: int, start: datetime, span: float) -> None:
    started = time.monotonic()
    states = (
        STATES[:events] if events <= len(STATES) else STATES + ["READ"] * (events - len(STATES))
    )
    with cursor.copy(f'COPY "{table}" (message_id, state, at, detail) FROM STDIN') as copy:
        parts = []
        for pk in range(1, rows + 1):
            at = start + timedelta(seconds=pk * span)
            stamp = at.isoformat()
            for state in states:
                parts.append(f"{pk}\t{state}\t{stamp}\t\n")
            if pk % 50_000 == 0:
                copy.write("".join(parts))
                parts = []
        copy.write("".join(parts))
    print(f"  events: {rows * len(states):,} rows in {time.monotonic() - started:.1f}s", flush=True)


def load(args: argparse.Namespace) -> tuple[int, str, float]:
    from django.db import connection

    from channels_app.models import ChannelAccount
    from notify.models import SendRequest
    from notify.services import app_create
    from templates_app.models import MessageTemplate
    from tracking.models import Message, MessageEvent
    from tracking.partitions import partitions_cover

    app, key = app_create("bench")
    account = ChannelAccount.objects.create(
        app=app, name="sandbox", channel="email", provider="sandbox"
    )
    template = MessageTemplate.objects.create(
        app=app, name="bench", code="bench", channel="email", receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Hello {$name}"}, channel_account=account,
    )  # fmt: skip
    rows, per_request = args.rows, 1000
    receivers = max(1, rows // args.per_receiver)
    now = datetime.now(UTC)
    start = now - timedelta(days=60)
    span = 60 * 86400 / rows
    requests = (rows + per_request - 1) // per_request

    message_table, event_table = Message._meta.db_table, MessageEvent._meta.db_table
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        # The messages span 60 days: their monthly partitions must exist before the load.
        partitions_cover(start, now)
        # Secondary indexes go during the load and come back after it (unique constraints
        # as constraints, the rest as indexes; a partitioned table lists them on the parent).
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'u' AND conrelid::regclass::text = ANY(%s)",
            [[message_table, event_table]],
        )
        constraints = cursor.fetchall()
        for table, name, _ in constraints:
            cursor.execute(f'ALTER TABLE "{table.strip(chr(34))}" DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN (%s, %s) "
            "AND indexname NOT LIKE %s",
            [message_table, event_table, "%_pkey"],
        )
        # "ON ONLY" would rebuild a partitioned index on the parent alone.
        indexes = [(name, d.replace(" ON ONLY ", " ON ")) for name, d in cursor.fetchall()]
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # So do the foreign keys (a trigger per row), re-added after the load.
        tables = [SendRequest._meta.db_table, message_table, event_table]
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE "{table.strip(chr(34))}" DROP CONSTRAINT "{name}"')
        print(
            f"dropped {len(indexes) + len(constraints)} secondary indexes and {len(foreign_keys)} foreign keys for the load",
            flush=True,
        )
        started = time.monotonic()
        copy_rows(
            cursor,
            SendRequest._meta.db_table,
            column_plan(
                SendRequest,
                {
                    "id": lambda pk: pk,
                    "request_id": lambda pk: uuid.UUID(int=(pk * K + 1) % (1 << 128)),
                    "app_id": app.pk,
                    "template_id": template.pk,
                    "idempotency_key": None,
                    "priority": "normal",
                    "accepted_count": per_request,
                    "rejected_count": 0,
                    "rejected": [],
                    "created_at": lambda pk: start + timedelta(seconds=pk * per_request * span),
                },
            ),
            range(1, requests + 1),
            "requests",
        )
        last_state = STATES[min(args.events, len(STATES)) - 1]
        copy_rows(
            cursor,
            message_table,
            column_plan(
                Message,
                {
                    "id": lambda pk: pk,
                    "message_id": message_uuid,
                    "app_id": app.pk,
                    "request_id": lambda pk: (pk - 1) // per_request + 1,
                    "template_id": template.pk,
                    "channel": "email",
                    "account_id": account.pk,
                    "receiver": lambda pk: receiver_of(pk, receivers),
                    "biz_id": lambda pk: f"order-{pk}",
                    "variables": {"name": "Ada"},
                    "content": {"subject": "Hi Ada", "text": "Hello Ada"},
                    "priority": "normal",
                    "state": last_state,
                    "attempts": 1,
                    "last_error": "",
                    "provider_message_id": lambda pk: f"sandbox-{pk}",
                    "created_at": lambda pk: start + timedelta(seconds=pk * span),
                    "updated_at": lambda pk: start + timedelta(seconds=pk * span),
                },
            ),
            range(1, rows + 1),
            "messages",
        )
        copy_events(cursor, event_table, rows, args.events, start, span)
        loaded = time.monotonic() - started
        index_started = time.monotonic()
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in constraints:
            cursor.execute(
                f'ALTER TABLE "{table.strip(chr(34))}" ADD CONSTRAINT "{name}" {definition}'
            )
        for table, name, definition in foreign_keys:
            cursor.execute(
                f'ALTER TABLE "{table.strip(chr(34))}" ADD CONSTRAINT "{name}" {definition}'
            )
        for table in (SendRequest._meta.db_table, message_table, event_table):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))"
            )
            cursor.execute(f'ANALYZE "{table}"')
        print(
            f"  indexes and foreign keys rebuilt + ANALYZE in {time.monotonic() - index_started:.1f}s",
            flush=True,
        )
    return receivers, key, loaded + (time.monotonic() - index_started)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.50):6.2f} ms  p95 {pick(0.95):6.2f} ms  p99 {pick(0.99):6.2f} ms  max {ordered[-1] * 1000:6.2f} ms"


def time_lookups(client, paths: list[str]) -> list[float]:
    for path in paths[:50]:  # warm the connection and the caches of the code path
        assert client.get(path).status_code == 200
    samples = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return samples


def explain(client, path: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if "tracking_message" not in sql:
                continue  # auth
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            print("    " + sql[:160] + ("..." if len(sql) > 160 else ""))
            for (line,) in cursor.fetchall():
                print("      " + line)


def main() -> None:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.db
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    # A benchmark measures lookups, not the per-App API rate limit.
    os.environ["TIDINGS_API_RATE_LIMIT"] = "1000000/s"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    if not args.reuse:
        recreate_database(args.db)
    import django

    django.setup()
    from django.test import Client

    from notify.models import ApiKey

    if args.reuse:
        # Lookups only, on the rows a previous run loaded (same --rows / --per-receiver).
        from notify.models import App
        from notify.services import api_key_create

        key = api_key_create(App.objects.get(name="bench"), name=f"bench-{time.time_ns()}")
        receivers = max(1, args.rows // args.per_receiver)
        print(f"reusing the loaded database ({ApiKey.objects.count()} keys)", flush=True)
    else:
        build_schema(args.schema)
        print(f"loading {args.rows:,} messages x {args.events} events into {args.db}", flush=True)
        receivers, key, load_seconds = load(args)
        print(f"load time: {load_seconds:.1f}s", flush=True)

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    rng = random.Random(42)
    by_id = [
        f"/api/v1/messages/{message_uuid(rng.randint(1, args.rows))}" for _ in range(args.lookups)
    ]
    by_receiver = [
        f"/api/v1/receivers/{receiver_of(rng.randint(1, args.rows), receivers)}/messages"
        for _ in range(args.lookups)
    ]
    sample = client.get(by_receiver[0]).json()["results"]
    print(f"a receiver has {len(sample)} messages with {len(sample[0]['events'])} events each")
    print(
        f"GET /api/v1/messages/{{id}}              ({args.lookups} lookups): {percentiles(time_lookups(client, by_id))}"
    )
    print(
        f"GET /api/v1/receivers/{{r}}/messages      ({args.lookups} lookups): {percentiles(time_lookups(client, by_receiver))}"
    )
    print("EXPLAIN, message by id:")
    explain(client, by_id[0])
    print("EXPLAIN, messages by receiver:")
    explain(client, by_receiver[0])


if __name__ == "__main__":
    main()
