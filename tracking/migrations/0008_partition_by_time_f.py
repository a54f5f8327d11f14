"""Partition the message store by time on PostgreSQL (tracking/partitions.py explains why).

Each table is renamed aside, recreated as a range-partitioned table with the same columns,
refilled, and given its primary key (id plus the partition column) and its indexes back.
Partitions are created for every month from the oldest row to a few months ahead, plus the
DEFAULT partition. Other databases (SQLite for `make run`) keep plain tables.
"""

from datetime import UTC, datetime

from django.db import migrations

TABLES = {"tracking_message": "created_at", "tracking_messageevent": "at"}
MONTHS_AHEAD = 3


def _months(first: datetime, last: datetime):
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        start = datetime(year, month, 1, tzinfo=UTC)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        yield start, datetime(year, month, 1, tzinfo=UTC)


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    now = datetime.now(UTC)
    ahead = datetime(now.year + (now.month + MONTHS_AHEAD - 1) // 12,
                     (now.month + MONTHS_AHEAD - 1) % 12 + 1, 1, tzinfo=UTC)  # fmt: skip
    models = {"tracking_message": apps.get_model("tracking", "Message"),
              "tracking_messageevent": apps.get_model("tracking", "MessageEvent")}  # fmt: skip
    with schema_editor.connection.cursor() as cursor:
        for table, column in TABLES.items():
            aside = f"{table}_unpartitioned"
            # LIKE copies columns, defaults and checks, not foreign keys: keep them to re-add.
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = %s::regclass",
                [table],
            )
            foreign_keys = cursor.fetchall()
            cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{aside}"')
            cursor.execute(
                f'CREATE TABLE "{table}" (LIKE "{aside}" INCLUDING DEFAULTS INCLUDING IDENTITY '
                f'INCLUDING CONSTRAINTS INCLUDING STORAGE) PARTITION BY RANGE ("{column}")'
            )
            cursor.execute(f'SELECT min("{column}") FROM "{aside}"')
            oldest = cursor.fetchone()[0] or now
            for start, end in _months(oldest.astimezone(UTC), ahead):
                cursor.execute(
                    f'CREATE TABLE "{table}_p{start:%Y%m}" PARTITION OF "{table}" '
                    "FOR VALUES FROM (%s) TO (%s)",
                    [start, end],
                )
            cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
            cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{aside}"')
            cursor.execute(f'SELECT max(id) FROM "{aside}"')
            highest = cursor.fetchone()[0]
            if highest:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, highest]
                )
            cursor.execute(f'DROP TABLE "{aside}"')
            # The identity sequence LIKE made is "<table>_id_seq1": give it the usual name.
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            cursor.execute(f'ALTER SEQUENCE {cursor.fetchone()[0]} RENAME TO "{table}_id_seq"')
            cursor.execute(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id, "{column}")'
            )
            for name, definition in foreign_keys:
                cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        # Unique per partition: UUIDv7 message ids are unique by construction.
        cursor.execute(
            'CREATE UNIQUE INDEX "tracking_message_message_id_key" '
            'ON "tracking_message" (message_id, created_at)'
        )
    for model in models.values():
        for sql in schema_editor._model_indexes_sql(model):
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    # Partition DDL and the refill run in one transaction.
    atomic = True

    dependencies = [
        ("tracking", "0007_message_fks_without_constraints_f"),
        ("channels_app", "0004_inbox_message_without_constraint_f"),
    ]

    # Not reversible in place: going back means dumping and reloading the rows.
    operations = [migrations.RunPython(partition, migrations.RunPython.noop)]
