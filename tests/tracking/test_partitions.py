"""The message store partitioned by time (PostgreSQL): partitions are created ahead, filled by
the ordinary send path, and dropped whole by the retention task with what pointed at them."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection

from tracking import partitions
from tracking.models import DailyStat, Message, MessageEvent, TrackedLink
from tracking.partitions import partition_statistics_ensure, partitions_ensure, partitions_list
from tracking.retention import messages_purge


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def _move(message_id: str, when: datetime) -> Message:
    """Date a message and its trace back: the UPDATE moves the rows between partitions."""
    Message.objects.filter(message_id=message_id).update(created_at=when)
    message = Message.objects.get(message_id=message_id)
    MessageEvent.objects.filter(message=message).update(at=when)
    return message


def _partition_of(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT tableoid::regclass::text FROM "{table}" WHERE id = %s', [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_tables_are_partitioned_by_month_with_a_default(db):
    for table in ("tracking_message", "tracking_messageevent"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s", [table])
            assert cursor.fetchone()[0] == "p"
            cursor.execute("SELECT 1 FROM pg_class WHERE relname = %s", [f"{table}_default"])
            assert cursor.fetchone() is not None


def test_retention_drops_whole_expired_partitions_and_what_points_at_them(ding, send, settings):
    # given monthly partitions from June 2026, and messages of June, July and today
    partitions_ensure(_at(2026, 6, 15))
    june, july, today = (send("ding", [u])[0] for u in ("u1", "u2", "u3"))
    june_message = _move(june, _at(2026, 6, 10))
    july_message = _move(july, _at(2026, 7, 10))
    assert _partition_of("tracking_message", june_message.pk) == "tracking_message_p202606"
    assert _partition_of("tracking_message", july_message.pk) == "tracking_message_p202607"
    link = TrackedLink.objects.create(
        token="june-link",
        message=june_message,
        url="https://example.com",
        created_at=_at(2026, 6, 10),
    )
    Message.objects.filter(message_id=today).update(resent_from=june_message)
    stats_before = sum(DailyStat.objects.values_list("count", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_message_p202606")  # the purge reports the planner's count

    # when retention runs on 1 October with a 90-day window (cutoff 3 July)
    settings.TIDINGS_RETENTION_DAYS = 90
    purged = messages_purge(now=_at(2026, 10, 1))

    # then June's partitions are gone with its message, its trace and its tracked link ...
    assert purged == 1
    for table in ("tracking_message", "tracking_messageevent"):
        names = partitions_list(table)
        assert f"{table}_p202606" not in names
        # ... July's stays (part of it is still inside the window), and months ahead exist
        assert {f"{table}_p202607", f"{table}_p202610", f"{table}_p202701"} <= set(names)
    assert not Message.objects.filter(pk=june_message.pk).exists()
    assert not MessageEvent.objects.filter(message_id=june_message.pk).exists()
    assert not TrackedLink.objects.filter(pk=link.pk).exists()
    assert Message.objects.get(message_id=today).resent_from_id is None
    assert MessageEvent.objects.filter(message_id=july_message.pk).exists()
    # and the aggregates outlive the messages
    assert sum(DailyStat.objects.values_list("count", flat=True)) == stats_before


def test_a_new_partition_takes_over_rows_the_default_partition_held(ding, send):
    # given a message dated in a month that has no partition yet
    stray = _move(send("ding", ["u1"])[0], _at(2027, 9, 3))
    assert _partition_of("tracking_message", stray.pk) == "tracking_message_default"

    # when beat creates that month's partition
    created = partitions_ensure(_at(2027, 9, 1))

    # then the row moved into it, and reads find it as before
    assert "tracking_message_p202709" in created
    assert _partition_of("tracking_message", stray.pk) == "tracking_message_p202709"
    assert Message.objects.get(pk=stray.pk).created_at == _at(2027, 9, 3)


def _id_statistics(partition: str) -> float | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_distinct FROM pg_stats WHERE tablename = %s AND attname = 'id'", [partition]
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def _estimated_rows(partition: str, ids: list[int]) -> int:
    """The planner's row estimate for the consumer's kind of lookup: a list of ids."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'EXPLAIN (FORMAT JSON) SELECT id FROM "{partition}" WHERE id = ANY(%s)',  # noqa: S608
            [ids],
        )
        return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]


def test_a_partition_gets_its_first_statistics_as_soon_as_rows_are_in(ding, send, monkeypatch):
    # given a month's new partition holding 3,000 messages, never analyzed
    monkeypatch.setattr(partitions, "_with_statistics", set())
    partitions_ensure(_at(2031, 3, 1))
    partition = "tracking_message_p203103"
    ids = send("ding", [f"u{i}" for i in range(3000)], deliver=False)
    Message.objects.filter(message_id__in=ids).update(created_at=_at(2031, 3, 2))
    pks = list(Message.objects.filter(message_id__in=ids).values_list("pk", flat=True))
    assert _partition_of("tracking_message", pks[0]) == partition
    assert _id_statistics(partition) is None
    # the planner then takes 100 ids for more rows than that (a share of the table)
    assert _estimated_rows(partition, pks[:100]) > 100

    # when the statistics are ensured, as after the commit of a send into it
    partition_statistics_ensure("tracking_message", _at(2031, 3, 2))

    # then it knows that `id` is unique: 100 ids are 100 rows
    assert _id_statistics(partition) == -1
    assert _estimated_rows(partition, pks[:100]) == 100
    # and the partition is not looked up again by this process
    assert partition in partitions._with_statistics


def test_a_send_ensures_its_partition_has_statistics(
    ding, send, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(partitions, "_with_statistics", set())
    with django_capture_on_commit_callbacks(execute=True):
        [message_id] = send("ding", ["u1"], deliver=False)
    created = Message.objects.get(message_id=message_id).created_at
    current = partitions.period_of(created).name("tracking_message")
    assert _id_statistics(current) == -1
    assert current in partitions._with_statistics
