"""The record step of delivery: what a batch writes after its rules and provider calls,
each a transaction over the whole group (retries, holds and deferrals are published
together at the end of the batch, one task per lane and due-time bucket)."""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError, SendResult
from channels_app.routing import Route
from config.lookups import int_array
from notify.profiles import push_tokens_mark_dead
from notify.queueing import enqueue_delivery
from notify.rules.base import RuleOutcome
from tracking.models import Message, MessageState
from tracking.services import Advance, EventRow, events_record, messages_advance_many

logger = logging.getLogger(__name__)


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.TIDINGS_CLAIM_LEASE_SECONDS)


@dataclass
class Batch:
    """One claimed batch: its fencing token, its lease, the messages it still owns, and the
    retries and deferrals it produced, published together at the end (one task per lane
    and due-time bucket)."""

    token: uuid.UUID
    ids: list[int]
    renewed: float = field(default_factory=time.monotonic)
    # What the last claim or lease renewal found still SENDING under this batch's token.
    owned: set[int] = field(init=False)
    later: dict[tuple[str, str, float], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def __post_init__(self) -> None:
        self.owned = set(self.ids)

    def keep_lease(self) -> None:
        """Renew the lease of the batch's unfinished messages before a provider call, once
        a third of it has gone: a live worker keeps its batch however slow the provider, a
        call starts with at least two thirds of the lease ahead (40 s by default, against a
        10 s provider timeout), and a killed worker's batch is free one lease after its last
        renewal. Between renewals nobody else can claim the batch's messages, so
        `owned` is exact when a dispatch reads it; a renewal after a stall longer than the
        lease finds what another worker took meanwhile, and drops it from `owned`.
        Retries due within a bucket are published now, not when the batch ends: a long
        batch must not hold back a retry due in a second, and the sweeper counts on a task
        entering its lane by its due time (notify/lane_progress.py)."""
        if self.later:
            self.publish(until=time.time() + settings.TIDINGS_RETRY_BUCKET_SECONDS)
        lease = settings.TIDINGS_CLAIM_LEASE_SECONDS
        if time.monotonic() - self.renewed < lease / 3:
            return
        now = timezone.now()
        mine = Message.objects.filter(
            id__any=self.ids, claim_token=self.token, state=MessageState.SENDING
        )
        with transaction.atomic():
            self.owned = set(mine.select_for_update().values_list("id", flat=True))
            Message.objects.filter(id__any=list(self.owned)).update(
                lease_expires_at=lease_until(now)
            )
        self.renewed = time.monotonic()

    def defer(self, message: Message, due: datetime) -> datetime:
        """Schedule a message's next try at `due`, rounded up to the retry bucket so that
        messages due around the same time share a task; returns the rounded time."""
        bucket = settings.TIDINGS_RETRY_BUCKET_SECONDS
        epoch = due.timestamp()
        if bucket > 0:
            epoch = math.ceil(epoch / bucket) * bucket
        self.later[(message.channel, message.priority, epoch)].append(message.id)
        return datetime.fromtimestamp(epoch, tz=UTC)

    def publish(self, until: float | None = None) -> None:
        """Publish the deferred tasks (those due by `until`, if given); a lost publish is
        caught by the sweeper, which releases due messages."""
        now = time.time()
        for channel, priority, epoch in [k for k in self.later if until is None or k[2] <= until]:
            ids = self.later.pop((channel, priority, epoch))
            countdown = max(0.0, epoch - now)
            if countdown > settings.TIDINGS_COUNTDOWN_MAX_SECONDS:
                continue  # hours away: the sweeper releases it when due
            try:
                enqueue_delivery(ids, channel, priority, countdown=round(countdown, 3))
            except Exception:
                logger.exception(
                    "broker unavailable: %d deferred messages left for the sweeper", len(ids)
                )


def record_stranded(route: Route, batch: Batch) -> None:
    """Messages no account took in this attempt. Those an open breaker held back never
    reached a provider: they wait for the breaker without spending an attempt. The others
    (every account failed transiently) are recorded as one attempt, retried or failed."""
    now = timezone.now()
    held, tried = [], []
    for message, error in route.stranded:
        if route.held(message, error) and not budget_spent(message, now):
            held.append((message, error))
        else:
            tried.append((message, error))
    if held:
        record_held(held, batch, now)
    if not tried:
        return
    messages = [message for message, _ in tried]
    fresh = [m for m, error in tried if not route.held(m, error) and route.count_attempt(m)]
    for message in fresh:  # written with the result below
        message.attempts += 1
    results = [SendResult(error=error) for _, error in tried]
    record_results(messages, results, now, batch)


def record_held(held: list[tuple[Message, DeliveryError]], batch: Batch, now: datetime) -> None:
    """Back to QUEUED until calls may go again, spread so that they do not all come back at
    once: held by an open breaker, over half its open time (its half-open ramp must not
    meet the whole backlog); stopped by a provider's rate limit, over its Retry-After
    (it asked for a pause, not for the breaker's)."""
    window = settings.TIDINGS_BREAKER_PROBE_WINDOW_SECONDS
    breaker_spread = max(window, settings.TIDINGS_BREAKER_OPEN_SECONDS / 2)
    groups: dict[tuple[datetime, str], list[int]] = defaultdict(list)
    events = []
    for message, error in held:
        pause = max(error.retry_after or 0.0, window)
        spread = breaker_spread if error.code == "circuit_open" else pause
        wait = pause + random.uniform(0, spread)  # noqa: S311
        due = batch.defer(message, now + timedelta(seconds=wait))
        groups[(due, str(error)[:2000])].append(message.id)
        events.append(
            EventRow(
                message.id,
                MessageState.THROTTLED,
                now,
                f"held: {error}; next try in {(due - now).total_seconds():.1f}s, no attempt spent",
            )
        )
    with transaction.atomic():
        # Only what this batch still owns (a message whose lease ran out is another's now).
        owned = set(
            Message.objects.select_for_update()
            .filter(
                id__in=[m.id for m, _ in held],
                state=MessageState.SENDING,
                claim_token=batch.token,
            )
            .values_list("id", flat=True)
        )
        for (due, reason), ids in groups.items():
            Message.objects.filter(id__any=[pk for pk in ids if pk in owned]).update(
                state=MessageState.QUEUED,
                next_attempt_at=due,
                last_error=reason,
                lease_expires_at=None,
                claim_token=None,
                updated_at=now,
            )
        events_record(
            (e for e in events if e.message_id in owned),
            messages=[m for m, _ in held if m.id in owned],
        )


def record_rule_outcome(outcome: RuleOutcome, now: datetime, batch: Batch) -> None:
    if not (outcome.noted or outcome.stopped or outcome.deferred):
        return
    events: list[EventRow] = []
    for message, state, detail in outcome.noted:
        events.append(EventRow(message.id, state, now, detail))
    by_state: dict[tuple[str, str], list[int]] = defaultdict(list)
    for message, state, detail in outcome.stopped:
        by_state[(state, detail)].append(message.id)
        events.append(EventRow(message.id, state, now, detail))
    with transaction.atomic():
        for (state, detail), ids in by_state.items():
            Message.objects.filter(id__any=ids).update(
                state=state, last_error=detail, lease_expires_at=None, updated_at=now
            )
        deferred: dict[datetime, list[Message]] = defaultdict(list)
        for message, not_before, state, detail in outcome.deferred:
            # Rounded up to the retry bucket: deferrals due together share one task.
            deferred[batch.defer(message, not_before)].append(message)
            events.append(EventRow(message.id, state, now, detail))
        for not_before, messages in deferred.items():
            Message.objects.filter(id__any=[m.id for m in messages]).update(
                state=MessageState.QUEUED,
                next_attempt_at=not_before,
                lease_expires_at=None,
                claim_token=None,
                updated_at=now,
            )
        involved = [
            *(entry[0] for entry in outcome.noted),
            *(entry[0] for entry in outcome.stopped),
            *(entry[0] for entry in outcome.deferred),
        ]
        events_record(events, messages=involved)


def retry_delay(attempts: int, error: DeliveryError | None = None) -> float:
    """Exponential backoff with jitter; a provider's Retry-After wins when it is longer."""
    base = settings.TIDINGS_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1))
    delay = min(settings.TIDINGS_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.0)  # noqa: S311
    if error is not None and error.retry_after:
        delay = max(delay, min(error.retry_after, settings.TIDINGS_RETRY_MAX_SECONDS))
    return delay


def budget_spent(message: Message, now: datetime) -> bool:
    """Has the message used up its retry window (counted from when it was first queued)?"""
    first = message.queued_at or message.created_at
    return (
        first is not None and (now - first).total_seconds() >= settings.TIDINGS_RETRY_WINDOW_SECONDS
    )


def record_results(
    chunk: list[Message], results: list[SendResult], now: datetime, batch: Batch
) -> None:
    """SENT, FAILED or RETRYING (with its due time) for each result, in one transaction,
    with the attempt count the dispatch counted (notify.delivery writes none before)."""
    sent, finished, events = _outcomes(chunk, results, now, batch)
    released = {
        "updated_at": now,
        "lease_expires_at": None,
        "claim_token": None,
    }
    with transaction.atomic():
        if sent:
            _record_sent(sent, now, released)
        for (state, reason, next_attempt_at, attempts), ids in finished.items():
            Message.objects.filter(id__any=ids).update(
                state=state,
                last_error=reason,
                next_attempt_at=next_attempt_at,
                attempts=attempts,
                **released,
            )
        events_record(events, messages=chunk)
        _undelivered_at_once(chunk, results, now)


def _outcomes(
    chunk: list[Message], results: list[SendResult], now: datetime, batch: Batch
) -> tuple[
    list[tuple[int, str, int]],
    dict[tuple[str, str, datetime | None, int], list[int]],
    list[EventRow],
]:
    sent: list[tuple[int, str, int]] = []
    # Same outcome, reason and attempt count share one UPDATE: a batch has few distinct ones.
    finished: dict[tuple[str, str, datetime | None, int], list[int]] = defaultdict(list)
    events: list[EventRow] = []
    for message, result in zip(chunk, results, strict=True):
        if result.ok:
            sent.append((message.id, result.provider_message_id[:200], message.attempts))
            events.append(EventRow(message.id, MessageState.SENT, now, result.provider_message_id))
            continue
        error = result.error
        assert error is not None  # not ok
        # Transient errors retry for the retry window; the attempt cap is a backstop.
        if (
            error.permanent
            or message.attempts >= settings.TIDINGS_MAX_ATTEMPTS
            or budget_spent(message, now)
        ):
            reason = (
                str(error)
                if error.permanent
                else f"gave up after {message.attempts} attempts: {error}"
            )
            finished[(MessageState.FAILED, reason[:2000], None, message.attempts)].append(
                message.id
            )
            events.append(EventRow(message.id, MessageState.FAILED, now, reason))
            continue
        due = now + timedelta(seconds=retry_delay(message.attempts, error))
        if message.expires_at is not None and due > message.expires_at:
            due = message.expires_at  # its TTL wins: the expiry rule ends it then
        next_attempt_at = batch.defer(message, due)
        retrying = (MessageState.RETRYING, str(error)[:2000], next_attempt_at, message.attempts)
        finished[retrying].append(message.id)
        events.append(
            EventRow(
                message.id,
                MessageState.RETRYING,
                now,
                f"{error}; next attempt in {(next_attempt_at - now).total_seconds():.1f}s",
            )
        )
    return sent, finished, events


def _undelivered_at_once(chunk: list[Message], results: list[SendResult], now: datetime) -> None:
    """Sent, but the provider's answer already says they will not arrive (WeCom's
    invaliduser, a dead FCM/APNs device token): moved on through the receipts' state
    machine, with its trace and stats; a dead token is kept, never to be used again."""
    undelivered = [(m, r) for m, r in zip(chunk, results, strict=True) if r.ok and r.undelivered]
    if not undelivered:
        return
    messages_advance_many(
        [Advance(m.id, MessageState.UNDELIVERED, now, r.undelivered) for m, r in undelivered]
    )
    dead = [(m, r.undelivered) for m, r in undelivered if r.dead_token]
    if dead:
        providers = dict(
            ChannelAccount.objects.filter(pk__in={m.account_id for m, _ in dead}).values_list(
                "pk", "provider"
            )
        )
        push_tokens_mark_dead(
            [(m.app_id, m.receiver, providers.get(m.account_id or 0, ""), why) for m, why in dead]
        )


def _record_sent(
    sent: list[tuple[int, str, int]], now: datetime, released: Mapping[str, object]
) -> None:
    """SENT with each message's provider id and attempt count. On PostgreSQL one UPDATE
    joined to the values: a second statement would write every row a second time (no
    update of a message row can be HOT, its state is indexed)."""
    fields: dict[str, Any] = {
        "state": MessageState.SENT,
        "sent_at": now,
        "last_error": "",
        "next_attempt_at": None,
        **released,
    }
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":  # SQLite (make run): then one per message
            Message.objects.filter(id__in=[pk for pk, _, _ in sent]).update(**fields)
            cursor.executemany(
                f'UPDATE "{table}" SET attempts = %s, '  # noqa: S608 - our table and columns
                "provider_message_id = CASE WHEN %s = '' THEN provider_message_id ELSE %s END "
                "WHERE id = %s",
                [(attempts, pid, pid, pk) for pk, pid, attempts in sent],
            )
            return
        assignments = ", ".join(f"{column} = %s" for column in fields)
        cursor.execute(
            f'UPDATE "{table}" AS m SET {assignments}, attempts = v.attempts, '  # noqa: S608
            "provider_message_id = CASE WHEN v.pid = '' THEN m.provider_message_id ELSE v.pid END "
            "FROM unnest(%s::bigint[], %s::text[], %s::smallint[]) AS v(id, pid, attempts) "
            "WHERE m.id = v.id",
            [
                *fields.values(),
                int_array(pk for pk, _, _ in sent),
                [pid for _, pid, _ in sent],
                int_array(attempts for _, _, attempts in sent),
            ],
        )
