"""Writes to messages and their traces, always in bulk."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from tracking.bulk import copy_field, copy_json, copy_text
from tracking.models import (
    CallbackEndpoint,
    CallbackOutbox,
    DailyStat,
    FailureStat,
    Message,
    MessageEvent,
    MessageState,
)
from tracking.partitions import partition_statistics_ensure


class EventRow(NamedTuple):
    message_id: int  # Message.pk
    state: str
    at: datetime
    detail: str = ""


# What the stats are keyed on besides day and state: (app_id, template_id, channel, priority).
Meta = tuple[int, int, str, str]
# Event states whose detail is a failure reason worth a top-N.
FAILURE_STATES = frozenset({MessageState.FAILED, MessageState.UNDELIVERED, MessageState.EXPIRED})
# Sent to an App's callback URL unless its endpoint lists states: the steps a caller acts
# on, not the internal ones (ACCEPTED is the API's answer; QUEUED/SENDING are plumbing).
DEFAULT_CALLBACK_STATES = frozenset(MessageState.values) - {
    MessageState.ACCEPTED,
    MessageState.QUEUED,
    MessageState.SENDING,
}


# The columns of a new message that differ from message to message, in COPY order after
# the id; every other column of a send has one value for all its messages.
MESSAGE_OWN_COLUMNS = ("message_id", "receiver", "biz_id", "variables", "content")


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


def messages_insert(shared: dict[str, Any], rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """Insert messages: `rows` are tuples in MESSAGE_OWN_COLUMNS order, `shared` the
    values of the other columns (the same for every row); returns the new ids in order.

    PostgreSQL gets COPY (several times faster than INSERT for 100k rows), its text built
    here: the shared columns once, each distinct JSON value once (the "receivers" form
    shares one variables dict), which is ~3x cheaper than psycopg's per-row write_row plus
    json.dumps. Other databases get bulk_create.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = [
            Message(**shared, **dict(zip(MESSAGE_OWN_COLUMNS, r, strict=True))) for r in rows
        ]
        Message.objects.bulk_create(objects, batch_size=2000)
        return [obj.pk for obj in objects]
    ids = message_ids_allocate(len(rows))
    tail = "\t".join(copy_field(value) for value in shared.values()) + "\n"
    encoded: dict[int, str] = {}  # id(value) -> its JSON; every value lives through the call

    def as_json(value: Any) -> str:
        text = encoded.get(id(value))
        if text is None:
            text = encoded[id(value)] = copy_json(value)
        return text

    lines = (
        f"{pk}\t{message_id}\t{copy_field(receiver)}\t{copy_field(biz_id)}\t"
        f"{as_json(variables)}\t{as_json(content)}\t{tail}"
        for pk, (message_id, receiver, biz_id, variables, content) in zip(ids, rows, strict=True)
    )
    columns = ("id", *MESSAGE_OWN_COLUMNS, *shared)
    copy_text(Message._meta.db_table, columns, lines)
    # After the commit, so that the sample sees the rows; robust: a send never fails on it.
    created_at = shared["created_at"]  # the partition's column: every send sets it
    transaction.on_commit(
        lambda: partition_statistics_ensure(Message._meta.db_table, created_at), robust=True
    )
    return ids


# Forward-only order of the delivery states after SENT: a late or duplicate receipt never
# moves a message backwards (a DELIVERED receipt arriving after READ changes nothing).
STATE_RANK: dict[str, int] = {
    MessageState.SENT: 10,
    MessageState.UNDELIVERED: 20,
    MessageState.DELIVERED: 20,
    MessageState.READ: 30,
    MessageState.CLICKED: 40,
    MessageState.RECALLED: 50,
}


class Advance(NamedTuple):
    message_id: int  # Message.pk
    state: str
    at: datetime
    detail: str = ""


def messages_advance(
    message_ids: Sequence[int], state: str, at: datetime, detail: str = ""
) -> list[int]:
    """Move messages forward to `state` (receipts, reads, clicks, recalls); returns the ids
    that moved. Each that moved gets its event; the others are left as they are."""
    return messages_advance_many([Advance(pk, state, at, detail) for pk in message_ids])


def messages_advance_many(advances: Sequence[Advance]) -> list[int]:
    """Apply many receipts at once (each its own state, time and detail) with one read,
    one UPDATE per target state and one bulk event write; returns the ids that moved.

    A receipt that would not move its message forward (late, duplicate, or the message
    failed/recalled) is dropped: a message never goes backwards."""
    if not advances:
        return []
    now = timezone.now()
    ids = sorted({a.message_id for a in advances})
    with transaction.atomic():
        current = dict(
            Message.objects.select_for_update()
            .filter(id__any=ids, state__in=list(STATE_RANK))
            .order_by("id")
            .values_list("id", "state")
        )
        events: list[EventRow] = []
        for advance in sorted(advances, key=lambda a: (a.at, STATE_RANK.get(a.state, 0))):
            state = current.get(advance.message_id)
            if state is None or STATE_RANK[advance.state] <= STATE_RANK[state]:
                continue
            current[advance.message_id] = advance.state
            events.append(
                EventRow(advance.message_id, advance.state, advance.at, advance.detail[:2000])
            )
        # Each moved message ends in the last state it reached; one UPDATE per such state.
        moved: dict[str, list[int]] = {}
        for pk in {e.message_id for e in events}:
            moved.setdefault(current[pk], []).append(pk)
        for state, pks in moved.items():
            Message.objects.filter(id__in=pks).update(state=state, updated_at=now)
        events_record(events)
    return sorted({e.message_id for e in events})


def reclaimed_attempts_count(message_ids: Sequence[int]) -> set[int]:
    """Of messages taken back from a worker that stopped (found SENDING after their lease),
    the ones it had dispatched: their last stored step is SENDING, written just before the
    provider call, with no result after it. Those may have reached the provider, and their
    attempt is counted now: the consumer writes `attempts` with a call's result, which the
    stopped worker never recorded. Returns their ids; the caller holds the rows' locks."""
    if not message_ids:
        return set()
    # Event ids follow the order a message's steps were written, whatever the clocks say;
    # the bound on `at` lets PostgreSQL skip the event partitions older than the message.
    last_step = (
        MessageEvent.objects.filter(message_id=OuterRef("id"), at__gte=OuterRef("created_at"))
        .order_by("-id")
        .values("state")[:1]
    )
    in_doubt = set(
        Message.objects.filter(id__any=list(message_ids))
        .annotate(last_step=Subquery(last_step))
        .filter(last_step=MessageState.SENDING)
        .values_list("id", flat=True)
    )
    if in_doubt:
        Message.objects.filter(id__any=list(in_doubt)).update(attempts=F("attempts") + 1)
    return in_doubt


def events_record(
    events: Iterable[EventRow],
    *,
    shared_meta: Meta | None = None,
    messages: Iterable[Message] = (),
    store: bool = True,
) -> None:
    """Write trace events in bulk and, in the same transaction, count them into the daily
    aggregates and queue them for the Apps' status callbacks. `shared_meta`: the (app,
    template, channel, priority) every event's message shares, when the caller knows it
    (a send), which saves reading back rows just written; `messages`: loaded Message rows
    the events are about (the consumer has them), for the same reason. `store=False`:
    count and call back only, for events the trace derives from the message row (a
    send's ACCEPTED, see Message.trace_events)."""
    events = list(events)
    if not events:
        return
    # Inside a caller's transaction no savepoint: two round trips fewer per call, and an
    # error here fails the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        if not store:
            pass
        elif connection.vendor == "postgresql":
            # COPY whatever the count: for 5 events it took a quarter of bulk_create's CPU
            # (its model instances) and less time; the consumer writes many small groups.
            # Lines formatted here take a third of psycopg's per-row formatting: a batch's
            # events share a few timestamps, each formatted once.
            copy_text(
                MessageEvent._meta.db_table, ("message_id", "state", "at", "detail"),
                _event_lines(events),
            )  # fmt: skip
        else:
            MessageEvent.objects.bulk_create(
                [
                    MessageEvent(message_id=e.message_id, state=e.state, at=e.at, detail=e.detail)
                    for e in events
                ],
                batch_size=2000,
            )
        ids = {e.message_id for e in events}
        if shared_meta:
            meta = dict.fromkeys(ids, shared_meta)
        else:
            meta = {
                m.id: (m.app_id, m.template_id, m.channel, m.priority)
                for m in messages
                if m.id in ids
            }
            if len(meta) < len(ids):
                meta.update(message_meta(ids - meta.keys()))
        _stats_add(events, meta)
        _outbox_add(events, meta)


def _event_lines(events: list[EventRow]) -> Iterator[str]:
    stamps: dict[datetime, str] = {}
    for event in events:
        stamp = stamps.get(event.at)
        if stamp is None:
            stamp = stamps[event.at] = copy_field(event.at)
        yield f"{event.message_id}\t{copy_field(event.state)}\t{stamp}\t{copy_field(event.detail)}\n"


def message_meta(message_ids: Iterable[int]) -> dict[int, Meta]:
    """(app, template, channel, priority) of each message, in one query per 50k ids."""
    ids = list(message_ids)
    out: dict[int, Meta] = {}
    table = Message._meta.db_table
    if connection.vendor == "postgresql":
        sql = f"SELECT id, app_id, template_id, channel, priority FROM {table} WHERE id = ANY(%s)"  # noqa: S608
        step = 50_000
        with connection.cursor() as cursor:
            for start in range(0, len(ids), step):
                cursor.execute(sql, [ids[start : start + step]])
                out.update({row[0]: row[1:] for row in cursor.fetchall()})
        return out
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        rows = Message.objects.filter(id__in=ids[start : start + 900]).values_list(
            "id", "app_id", "template_id", "channel", "priority"
        )
        out.update({row[0]: row[1:] for row in rows})
    return out


def failure_reason(detail: str) -> str:
    """The part of a failure detail that groups well: no per-attempt suffix, 200 chars."""
    reason = detail.split("; next attempt in", 1)[0].strip() or "(no detail)"
    return reason[:200]


def _stats_add(events: list[EventRow], meta: dict[int, Meta]) -> None:
    counts: Counter[tuple[Any, ...]] = Counter()
    failures: Counter[tuple[Any, ...]] = Counter()
    days: dict[datetime, date] = {}
    for event in events:
        key = meta.get(event.message_id)
        if key is None:
            continue
        day = days.get(event.at)
        if day is None:
            day = days[event.at] = timezone.localdate(event.at)
        counts[(*key, day, event.state)] += 1
        if event.state in FAILURE_STATES:
            failures[(*key, day, event.state, failure_reason(event.detail))] += 1
    _increment(
        DailyStat._meta.db_table,
        ("app_id", "template_id", "channel", "priority", "day", "state"),
        counts,
    )
    _increment(
        FailureStat._meta.db_table,
        ("app_id", "template_id", "channel", "priority", "day", "state", "reason"),
        failures,
    )


def _increment(table: str, key_columns: Sequence[str], counts: Counter) -> None:
    """One multi-row INSERT per 500 keys: deltas, summed by readers and folded by beat."""
    if not counts:
        return
    columns = ", ".join(f'"{c}"' for c in key_columns)
    row_sql = "(" + ", ".join(["%s"] * (len(key_columns) + 1)) + ")"
    rows = list(counts.items())
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            sql = f'INSERT INTO "{table}" ({columns}, "count") VALUES ' + ", ".join(  # noqa: S608 - names are ours
                [row_sql] * len(chunk)
            )
            params: list[Any] = []
            for key, count in chunk:
                params.extend(key)
                params.append(count)
            cursor.execute(sql, params)


STAT_KEYS = {
    DailyStat: ("app_id", "template_id", "channel", "priority", "day", "state"),
    FailureStat: ("app_id", "template_id", "channel", "priority", "day", "state", "reason"),
}


def stats_compact() -> int:
    """Fold each key's delta rows into one row; returns how many rows went.

    DELETE ... RETURNING (PostgreSQL, SQLite >= 3.35) hands each row to exactly one
    transaction, so concurrent compactions and concurrent inserts never double-count."""
    removed = 0
    for model, keys in STAT_KEYS.items():
        table = model._meta.db_table
        columns = ", ".join(f'"{c}"' for c in keys)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'SELECT max(id) FROM "{table}"')  # noqa: S608
            (last,) = cursor.fetchone()
            if last is None:
                continue
            cursor.execute(
                f'DELETE FROM "{table}" WHERE id <= %s RETURNING {columns}, "count"',  # noqa: S608
                [last],
            )
            folded: Counter[tuple[Any, ...]] = Counter()
            rows = cursor.fetchall()
            for row in rows:
                key = tuple(row[:-1])
                if isinstance(key[4], str):  # SQLite returns dates as text
                    key = (*key[:4], date.fromisoformat(key[4]), *key[5:])
                folded[key] += row[-1]
            _increment(table, keys, folded)
            removed += len(rows) - len(folded)
    return removed


_endpoints_cache: tuple[float, dict[int, list[str]]] = (0.0, {})


def _callback_endpoints() -> dict[int, list[str]]:
    """Enabled endpoints by App, cached for TIDINGS_RULES_CACHE_SECONDS: every batch of
    events asks, and endpoints change rarely (a new one applies within seconds)."""
    global _endpoints_cache
    loaded_at, endpoints = _endpoints_cache
    if time.monotonic() - loaded_at > settings.TIDINGS_RULES_CACHE_SECONDS:
        endpoints = dict(
            CallbackEndpoint.objects.filter(enabled=True).values_list("app_id", "states")
        )
        _endpoints_cache = (time.monotonic(), endpoints)
    return endpoints


def callback_endpoints_forget() -> None:
    global _endpoints_cache
    _endpoints_cache = (0.0, {})


def _outbox_add(events: list[EventRow], meta: dict[int, Meta]) -> None:
    apps = {key[0] for key in meta.values()}
    endpoints = {app: states for app, states in _callback_endpoints().items() if app in apps}
    if not endpoints:
        return
    now = timezone.now()
    rows = []
    for event in events:
        key = meta.get(event.message_id)
        if key is None or key[0] not in endpoints:
            continue
        wanted = endpoints[key[0]] or DEFAULT_CALLBACK_STATES
        if event.state in wanted:
            rows.append(
                CallbackOutbox(
                    app_id=key[0],
                    message_id=event.message_id,
                    state=event.state,
                    at=event.at,
                    detail=event.detail,
                    next_attempt_at=now,
                )
            )
    CallbackOutbox.objects.bulk_create(rows, batch_size=2000)
