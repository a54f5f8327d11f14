"""Writes to messages and their traces, always in bulk."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction

from tracking.models import Message, MessageEvent, MessageState


class EventRow(NamedTuple):
    message_id: int  # Message.pk
    state: str
    at: datetime
    detail: str = ""


# The columns a new message is written with, in COPY order.
MESSAGE_COLUMNS = (
    "id",
    "message_id",
    "app_id",
    "request_id",
    "template_id",
    "channel",
    "account_id",
    "receiver",
    "biz_id",
    "variables",
    "content",
    "priority",
    "state",
    "attempts",
    "last_error",
    "provider_message_id",
    "created_at",
    "updated_at",
    "queued_at",
    "expires_at",
)
_JSON_COLUMNS = {MESSAGE_COLUMNS.index("variables"), MESSAGE_COLUMNS.index("content")}


def message_ids_allocate(count: int) -> list[int]:
    """Primary keys for `count` new messages, taken before the rows are written."""
    if connection.vendor != "postgresql":
        raise RuntimeError("ids are allocated by bulk_create on this database")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Message._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def messages_insert(rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """Insert messages given as tuples in MESSAGE_COLUMNS order (id None); returns their ids.

    PostgreSQL gets COPY (several times faster than INSERT for 100k rows); other
    databases get bulk_create.
    """
    if not rows:
        return []
    if connection.vendor == "postgresql":
        ids = message_ids_allocate(len(rows))
        _copy(
            Message._meta.db_table,
            MESSAGE_COLUMNS,
            ((pk, *row[1:]) for pk, row in zip(ids, rows, strict=True)),
            json_columns=_JSON_COLUMNS,
        )
        return ids
    fields = MESSAGE_COLUMNS[1:]
    objects = [Message(**dict(zip(fields, row[1:], strict=True))) for row in rows]
    Message.objects.bulk_create(objects, batch_size=2000)
    return [obj.pk for obj in objects]


# Forward-only order of the delivery states after SENT: a late or duplicate receipt never
# moves a message backwards (a DELIVERED receipt arriving after READ changes nothing).
STATE_RANK = {
    MessageState.SENT: 10,
    MessageState.UNDELIVERED: 20,
    MessageState.DELIVERED: 20,
    MessageState.READ: 30,
    MessageState.CLICKED: 40,
    MessageState.RECALLED: 50,
}


def messages_advance(
    message_ids: Sequence[int], state: str, at: datetime, detail: str = ""
) -> list[int]:
    """Move messages forward to `state` (receipts, reads, clicks, recalls); returns the ids
    that moved. Each that moved gets its event; the others are left as they are."""
    lower = [s for s, rank in STATE_RANK.items() if rank < STATE_RANK[state]]
    moved = list(
        Message.objects.filter(id__in=message_ids, state__in=lower).values_list("id", flat=True)
    )
    if moved:
        with transaction.atomic():
            Message.objects.filter(id__in=moved, state__in=lower).update(state=state, updated_at=at)
            events_record(EventRow(pk, state, at, detail) for pk in moved)
    return moved


def events_record(events: Iterable[EventRow]) -> None:
    events = list(events)
    if not events:
        return
    if connection.vendor == "postgresql" and len(events) > 200:
        _copy(MessageEvent._meta.db_table, ("message_id", "state", "at", "detail"), events)
        return
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(message_id=e.message_id, state=e.state, at=e.at, detail=e.detail)
            for e in events
        ],
        batch_size=2000,
    )


def _copy(
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    json_columns: set[int] = frozenset(),  # type: ignore[assignment]
) -> None:
    sql = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'  # noqa: S608 - names are ours
    connection.ensure_connection()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            if json_columns:
                row = [
                    json.dumps(value, separators=(",", ":")) if index in json_columns else value
                    for index, value in enumerate(row)
                ]
            copy.write_row(row)
