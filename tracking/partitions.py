"""Time partitions of the message store (PostgreSQL only).

`tracking_message` is partitioned by `created_at` and `tracking_messageevent` by `at`, one
partition per month (`TIDINGS_PARTITION_INTERVAL=day` for very large deployments), plus a
DEFAULT partition that catches rows outside every range (imports of old data, a clock far
off) so an insert never fails. Beat keeps `TIDINGS_PARTITIONS_AHEAD` periods created ahead
and retention drops whole partitions once their last day is older than
`TIDINGS_RETENTION_DAYS`: no DELETE of millions of rows, no table bloat, no vacuum debt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import ForeignObjectRel

from tracking.models import Message, MessageEvent

logger = logging.getLogger(__name__)

# table -> partition column
PARTITIONED: dict[str, str] = {
    Message._meta.db_table: "created_at",
    MessageEvent._meta.db_table: "at",
}
_NAME = re.compile(r"_p(\d{6}|\d{8})$")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def name(self, table: str) -> str:
        fmt = "%Y%m%d" if settings.TIDINGS_PARTITION_INTERVAL == "day" else "%Y%m"
        return f"{table}_p{self.start.strftime(fmt)}"


def period_of(at: datetime) -> Period:
    at = at.astimezone(UTC)
    if settings.TIDINGS_PARTITION_INTERVAL == "day":
        start = datetime(at.year, at.month, at.day, tzinfo=UTC)
        return Period(start, start + timedelta(days=1))
    start = datetime(at.year, at.month, 1, tzinfo=UTC)
    end = datetime(at.year + (at.month == 12), at.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relkind FROM pg_class WHERE relname = %s AND relkind = 'p'",
            [Message._meta.db_table],
        )
        return cursor.fetchone() is not None


def partitions_list(table: str) -> dict[str, Period]:
    """The table's range partitions by name, with their bounds (the default one left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [table],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = {}
    for name in names:
        match = _NAME.search(name)
        if match is None:
            continue
        digits = match.group(1)
        start = datetime.strptime(digits, "%Y%m%d" if len(digits) == 8 else "%Y%m").replace(
            tzinfo=UTC
        )
        found[name] = Period(start, _period_end(start, daily=len(digits) == 8))
    return found


def _period_end(start: datetime, *, daily: bool) -> datetime:
    if daily:
        return start + timedelta(days=1)
    return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)


def partitions_ensure(now: datetime) -> list[str]:
    """Create the current period's partition and `TIDINGS_PARTITIONS_AHEAD` more for every
    partitioned table; rows the DEFAULT partition holds for a new range move into it."""
    last = period_of(now)
    for _ in range(settings.TIDINGS_PARTITIONS_AHEAD):
        last = period_of(last.end)
    return partitions_cover(now, last.start)


def partitions_cover(first: datetime, last: datetime) -> list[str]:
    """Partitions for every period from the one holding `first` to the one holding `last`
    (e.g. before importing old messages)."""
    created = []
    for table, column in PARTITIONED.items():
        existing = partitions_list(table)
        period = period_of(first)
        while period.start <= last:
            name = period.name(table)
            if name not in existing and not _overlaps(period, existing.values()):
                _partition_create(table, column, name, period)
                created.append(name)
            period = period_of(period.end)
    if created:
        logger.info("partitions created: %s", ", ".join(created))
    return created


def _overlaps(period: Period, others: Iterable[Period]) -> bool:
    return any(o.start < period.end and period.start < o.end for o in others)


def _partition_create(table: str, column: str, name: str, period: Period) -> None:
    default = f"{table}_default"
    bounds = [period.start, period.end]
    with transaction.atomic(), connection.cursor() as cursor:
        # A new range may not overlap rows the DEFAULT partition holds: detach it, move those
        # rows into the new partition, attach it back (all in one transaction).
        cursor.execute(
            f'SELECT 1 FROM "{default}" WHERE "{column}" >= %s AND "{column}" < %s LIMIT 1',  # noqa: S608 - our names
            bounds,
        )
        strays = cursor.fetchone() is not None
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # pending checks would block the DDL
        if strays:
            cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{default}"')
        cursor.execute(
            f'CREATE TABLE "{name}" PARTITION OF "{table}" FOR VALUES FROM (%s) TO (%s)', bounds
        )
        if strays:
            cursor.execute(
                f'WITH moved AS (DELETE FROM "{default}" WHERE "{column}" >= %s AND "{column}" < %s '  # noqa: S608
                f'RETURNING *) INSERT INTO "{table}" SELECT * FROM moved',
                bounds,
            )
            cursor.execute(f'ALTER TABLE "{table}" ATTACH PARTITION "{default}" DEFAULT')


# Partitions this process has seen with statistics: each is looked up once per process.
_with_statistics: set[str] = set()


def partition_statistics_ensure(table: str, at: datetime) -> None:
    """Give the partition holding `at` its first statistics if it has none (run after a
    commit that wrote rows into it). A partition nothing has analyzed yet, such as a new
    month's, or every one of a new database, is unknown to the planner, even that `id` is
    unique. It then read whole partitions in the consumer's per-batch statements, once per
    batch, until autovacuum's next round. Those statements find rows by a list of ids (and
    a state), and one ANALYZE of those two columns, taken as soon as the first rows are in,
    is enough for that: ~70 ms for 30,000 rows, where all columns took ~450 ms. The rest is
    left to autovacuum; statistics from any sample tell the planner that `id` is unique."""
    if connection.vendor != "postgresql":
        return
    name = period_of(at).name(table)
    if name in _with_statistics:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = current_schema()"
            " AND tablename = %s AND attname = 'id'), to_regclass(%s) IS NOT NULL",
            [name, f'"{name}"'],
        )
        analyzed, exists = cursor.fetchone()
        if not exists:  # rows outside every range went to the DEFAULT partition
            return
        if not analyzed:
            cursor.execute(f'ANALYZE "{name}" (id, state)')
            logger.info("first statistics taken for partition %s", name)
    _with_statistics.add(name)


def partitions_drop_expired(now: datetime) -> int:
    """Drop every partition whose whole period is older than the retention window, with
    what points at its messages; returns about how many messages went (planner estimate:
    counting a partition of a billion rows would cost more than dropping it)."""
    days = settings.TIDINGS_RETENTION_DAYS
    if not days:
        return 0
    cutoff = now - timedelta(days=days)
    dropped_messages = 0
    message_table = Message._meta.db_table
    for table in PARTITIONED:
        for name, period in sorted(partitions_list(table).items(), key=lambda kv: kv[1].start):
            if period.end > cutoff:
                continue
            with transaction.atomic(), connection.cursor() as cursor:
                if table == message_table:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [name]
                    )
                    dropped_messages += max(0, cursor.fetchone()[0])
                    _dependents_release(cursor, name)
                # Deferred foreign-key checks still pending in this transaction would block
                # the DROP: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f'DROP TABLE "{name}"')
            logger.info("retention: dropped partition %s (before %s)", name, period.end.date())
    return dropped_messages


def _dependents_release(cursor: CursorWrapper, partition: str) -> None:
    """What references messages of a partition about to go: rows that cascade are deleted,
    SET_NULL references cleared. The database has no foreign keys to enforce this (see
    Message), so every reverse relation Django knows of is walked here."""
    reverse = [
        f
        for f in Message._meta.get_fields(include_hidden=True)  # related_name="+" ones too
        if (f.one_to_many or f.one_to_one) and f.auto_created and not f.concrete
    ]
    for relation in reverse:
        assert isinstance(relation, ForeignObjectRel)  # auto-created and not concrete
        model, field = relation.related_model, relation.field
        assert model is not None and not isinstance(model, str)  # resolved once apps load
        if model is MessageEvent:
            continue  # partitioned by time itself, dropped with its own partitions
        column, related = field.column, model._meta.db_table
        subquery = f'SELECT id FROM "{partition}"'  # noqa: S608 - our names
        if field.remote_field.on_delete is models.SET_NULL:
            cursor.execute(
                f'UPDATE "{related}" SET "{column}" = NULL WHERE "{column}" IN ({subquery})'  # noqa: S608
            )
        else:
            cursor.execute(f'DELETE FROM "{related}" WHERE "{column}" IN ({subquery})')  # noqa: S608


def oldest_partition_start() -> datetime | None:
    """Rows older than this live in the DEFAULT partition (or nowhere)."""
    starts = [p.start for p in partitions_list(Message._meta.db_table).values()]
    return min(starts) if starts else None
