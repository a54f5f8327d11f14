"""The consumer side of a send: claim a batch, run the rules, call the provider, record.

Every step commits before the next, so a worker killed at any point leaves each message in
a state the sweeper or the redelivered task can finish from, and a message reported SENT
is never sent again.
"""

from __future__ import annotations

import logging
import math
import random
import time
import traceback
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.registry import UnknownProvider, get_adapter_class
from channels_app.routing import Leg, Route, account_health_record, routes_plan
from channels_app.secrets import account_secret_values
from config.logredact import secrets_register
from notify.queueing import enqueue_delivery, lane
from notify.rules.base import rules_run
from templates_app.models import MessageTemplate
from tracking.metrics import PROVIDER_LATENCY
from tracking.models import Message, MessageState
from tracking.services import EventRow, events_record

logger = logging.getLogger(__name__)

_CLAIM_FIELDS = (
    "id", "message_id", "app_id", "template_id", "channel", "account_id", "receiver", "biz_id",
    "variables", "content", "priority", "state", "attempts", "created_at", "queued_at",
    "expires_at", "next_attempt_at", "dispatched_at", "resent_from_id", "ignore_quiet_hours",
)  # fmt: skip
# Countdown ETAs fire on the worker's clock; allow a little skew before a retry is "due".
_DUE_SLACK = timedelta(seconds=0.5)


def _claimable(now: datetime) -> Q:
    waiting = Q(state__in=[MessageState.ACCEPTED, MessageState.QUEUED, MessageState.RETRYING]) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + _DUE_SLACK)
    )
    abandoned = Q(state=MessageState.SENDING, lease_expires_at__lt=now)
    return waiting | abandoned


def _lease(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.TIDINGS_CLAIM_LEASE_SECONDS)


def messages_claim(message_ids: list[int], now: datetime) -> tuple[list[Message], uuid.UUID]:
    """Atomically move the claimable messages to SENDING under a new claim token; a
    duplicate task gets none."""
    token = uuid.uuid4()
    with transaction.atomic():
        claimed = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(_claimable(now), id__in=message_ids)
            .only(*_CLAIM_FIELDS)
            .order_by("id")
        )
        if claimed:
            Message.objects.filter(id__in=[m.id for m in claimed]).update(
                state=MessageState.SENDING,
                lease_expires_at=_lease(now),
                claim_token=token,
                updated_at=now,
            )
    return claimed, token


@dataclass
class _Batch:
    """One claimed batch: its fencing token, its lease, and the retries and deferrals it
    produced, published together at the end (one task per lane and due-time bucket)."""

    token: uuid.UUID
    ids: list[int]
    renewed: float = field(default_factory=time.monotonic)
    later: dict[tuple[str, str, float], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def keep_lease(self) -> None:
        """Renew the lease of the batch's undispatched messages before a provider call,
        once a third of it has gone: a live worker keeps its batch however slow the
        provider, and a killed one's batch is free one lease after its last call.
        Retries due within a bucket are published now, not when the batch ends: a long
        batch must not hold back a retry due in a second, and the sweeper counts on a task
        entering its lane by its due time (notify/lane_progress.py)."""
        if self.later:
            self.publish(until=time.time() + settings.TIDINGS_RETRY_BUCKET_SECONDS)
        lease = settings.TIDINGS_CLAIM_LEASE_SECONDS
        if time.monotonic() - self.renewed < lease / 3:
            return
        now = timezone.now()
        Message.objects.filter(
            id__in=self.ids, claim_token=self.token, state=MessageState.SENDING
        ).update(lease_expires_at=_lease(now))
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


def batch_deliver(message_ids: list[int]) -> None:
    now = timezone.now()
    claimed, token = messages_claim(message_ids, now)
    if not claimed:
        return
    batch = _Batch(token, [m.id for m in claimed])
    try:
        events_record(_claim_events(claimed, now), messages=claimed)
        passed, outcome = rules_run(claimed, now)
        _record_rule_outcome(outcome, now, batch)
        templates = MessageTemplate.objects.only(
            "code", "message_type", "channel_account_id"
        ).in_bulk({m.template_id for m in passed})
        pinned = {t.channel_account_id for t in templates.values() if t.channel_account_id}
        accounts = ChannelAccount.objects.in_bulk({m.account_id for m in passed} | pinned)
        # Routing happens here, at send time: see channels_app.routing.
        for route in routes_plan(passed, templates, accounts):
            for leg in route:
                _deliver_via_account(leg, templates, batch)
            if route.stranded:
                _record_stranded(route, batch)
    finally:
        batch.publish()


def _record_stranded(route: Route, batch: _Batch) -> None:
    """Messages no account took in this attempt. Those an open breaker held back never
    reached a provider: they wait for the breaker without spending an attempt. The others
    (every account failed transiently) are recorded as one attempt, retried or failed."""
    now = timezone.now()
    held, tried = [], []
    for message, error in route.stranded:
        if route.held(message, error) and not _budget_spent(message, now):
            held.append((message, error))
        else:
            tried.append((message, error))
    if held:
        _record_held(held, batch, now)
    if not tried:
        return
    messages = [message for message, _ in tried]
    fresh = [m for m, error in tried if not route.held(m, error) and route.count_attempt(m)]
    if fresh:
        Message.objects.filter(id__in=[m.id for m in fresh]).update(attempts=F("attempts") + 1)
        for message in fresh:
            message.attempts += 1
    results = [SendResult(error=error) for _, error in tried]
    _record_results(messages, results, now, batch)


def _record_held(held: list[tuple[Message, DeliveryError]], batch: _Batch, now: datetime) -> None:
    """Back to QUEUED until the breaker lets calls through again, spread over a while so
    the ramp of a half-open breaker is not met by the whole backlog at once."""
    window = settings.TIDINGS_BREAKER_PROBE_WINDOW_SECONDS
    spread = max(window, settings.TIDINGS_BREAKER_OPEN_SECONDS / 2)
    groups: dict[tuple[datetime, str], list[int]] = defaultdict(list)
    events = []
    for message, error in held:
        wait = max(error.retry_after or 0.0, window) + random.uniform(0, spread)  # noqa: S311
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
            Message.objects.filter(id__in=[pk for pk in ids if pk in owned]).update(
                state=MessageState.QUEUED,
                next_attempt_at=due,
                last_error=reason,
                lease_expires_at=None,
                dispatched_at=None,
                claim_token=None,
                updated_at=now,
            )
        events_record(
            (e for e in events if e.message_id in owned),
            messages=[m for m, _ in held if m.id in owned],
        )


def _claim_events(claimed: list[Message], now: datetime) -> list[EventRow]:
    events = []
    for message in claimed:
        if (
            message.state in (MessageState.ACCEPTED, MessageState.QUEUED)
            and message.attempts == 0
            and message.next_attempt_at is None
        ):
            # QUEUED is recorded here with the time of publishing, not by the API, which
            # saves one write per receiver on the ingest path.
            events.append(
                EventRow(
                    message.id,
                    MessageState.QUEUED,
                    message.queued_at or now,
                    f"lane {lane(message.channel, message.priority)}",
                )
            )
        elif message.state == MessageState.SENDING:
            detail = "reclaimed: the worker that held it stopped"
            if message.dispatched_at:
                detail += "; the previous attempt may have reached the provider, resent with the same message_id"
            events.append(EventRow(message.id, MessageState.QUEUED, now, detail))
    return events


def _record_rule_outcome(outcome, now: datetime, batch: _Batch) -> None:
    events: list[EventRow] = []
    for message, state, detail in outcome.noted:
        events.append(EventRow(message.id, state, now, detail))
    by_state: dict[tuple[str, str], list[int]] = defaultdict(list)
    for message, state, detail in outcome.stopped:
        by_state[(state, detail)].append(message.id)
        events.append(EventRow(message.id, state, now, detail))
    with transaction.atomic():
        for (state, detail), ids in by_state.items():
            Message.objects.filter(id__in=ids).update(
                state=state, last_error=detail, lease_expires_at=None, updated_at=now
            )
        deferred: dict[datetime, list[Message]] = defaultdict(list)
        for message, not_before, state, detail in outcome.deferred:
            # Rounded up to the retry bucket: deferrals due together share one task.
            deferred[batch.defer(message, not_before)].append(message)
            events.append(EventRow(message.id, state, now, detail))
        for not_before, messages in deferred.items():
            Message.objects.filter(id__in=[m.id for m in messages]).update(
                state=MessageState.QUEUED,
                next_attempt_at=not_before,
                lease_expires_at=None,
                claim_token=None,
                updated_at=now,
            )
        involved = [m for m, *_ in (*outcome.noted, *outcome.stopped, *outcome.deferred)]
        events_record(events, messages=involved)


def _fail(messages: list[Message], error: DeliveryError, batch: _Batch) -> None:
    _record_results(messages, [SendResult(error=error)] * len(messages), timezone.now(), batch)


def _deliver_via_account(leg: Leg, templates: dict[int, MessageTemplate], batch: _Batch) -> None:
    account, messages = leg.account, leg.messages
    if account is None or not account.enabled:
        name = account.name if account else "none"
        _fail(
            messages,
            DeliveryError(
                f"channel account {name!r} is disabled", permanent=True, code="account_disabled"
            ),
            batch,
        )
        return
    try:
        adapter_class = get_adapter_class(account.provider)
    except UnknownProvider:
        _fail(
            messages,
            DeliveryError(
                f"unknown provider {account.provider!r}", permanent=True, code="unknown_provider"
            ),
            batch,
        )
        return
    # Whatever an adapter or a library logs about this account, its credentials are masked.
    secrets_register(account_secret_values(account))
    adapter = adapter_class(account.config, base_url=account.base_url, account_id=account.pk)
    try:
        adapter.__enter__()
    except DeliveryError as error:  # e.g. the SMTP server is down: nothing was dispatched
        if error.permanent:
            _fail(messages, error, batch)
        else:
            account_health_record(account, [SendResult(error=error)], timezone.now())
            leg.hand_over(messages, error)  # to the next account, or retried later
        return
    try:
        size = adapter.batch_size
        for start in range(0, len(messages), size):
            if start and not leg.allowed():
                # The breaker opened during this batch: stop calling a provider that is down.
                leg.hand_over(
                    messages[start:],
                    DeliveryError(f"circuit open for {account.name}", code="circuit_open"),
                )
                break
            batch.keep_lease()
            _dispatch(adapter, account, messages[start : start + size], templates, batch, leg)
    finally:
        adapter.__exit__(None, None, None)


def _dispatch(
    adapter: ProviderAdapter,
    account: ChannelAccount,
    chunk: list[Message],
    templates: dict[int, MessageTemplate],
    batch: _Batch,
    leg: Leg,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        owned = set(
            Message.objects.select_for_update()
            .filter(
                id__in=[m.id for m in chunk], state=MessageState.SENDING, claim_token=batch.token
            )
            .values_list("id", flat=True)
        )
        # Messages whose lease ran out while they waited in this batch belong to another
        # worker now: leave them to it.
        chunk = [m for m in chunk if m.id in owned]
        if not chunk:
            return
        # Failing over to another account continues the same attempt.
        bump = {m.id for m in chunk if leg.route.count_attempt(m)}
        for ids, step in ((bump, 1), (owned - bump, 0)):
            if ids:
                Message.objects.filter(id__in=ids).update(
                    dispatched_at=now,
                    lease_expires_at=_lease(now),
                    attempts=F("attempts") + step,
                    updated_at=now,
                )
        for message in chunk:
            message.attempts += message.id in bump
        note = leg.sending_note()
        events_record(
            (
                EventRow(
                    m.id,
                    MessageState.SENDING,
                    now,
                    f"attempt {m.attempts} via {account.name} ({account.provider}){note}",
                )
                for m in chunk
            ),
            messages=chunk,
        )
    outbound = [
        OutboundMessage(
            id=m.id,
            message_id=str(m.message_id),
            receiver=m.receiver,
            content=m.content,
            variables=m.variables,
            biz_id=m.biz_id,
            template_code=templates[m.template_id].code if m.template_id in templates else "",
            message_type=templates[m.template_id].message_type
            if m.template_id in templates
            else "notice",
        )
        for m in chunk
    ]
    started, outcome = time.monotonic(), "error"
    try:
        results = adapter.send(outbound)
        outcome = "ok"
        if len(results) != len(chunk):
            raise DeliveryError(
                f"{account.provider} adapter answered {len(results)} results for {len(chunk)} messages"
            )
    except DeliveryError as error:
        results = [SendResult(error=error)] * len(chunk)
    except Exception as exc:  # a bug in an adapter must not strand the batch in SENDING
        # The frames, not the exception's text: it may quote a header or a URL with a token.
        logger.error(
            "provider adapter %s (account %s) crashed: %s\n%s",
            account.provider,
            account.pk,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        error = DeliveryError(f"internal error in {account.provider} adapter: {type(exc).__name__}")
        results = [SendResult(error=error)] * len(chunk)
    finally:
        PROVIDER_LATENCY.labels(account.provider, outcome).observe(time.monotonic() - started)
    # The result of a call that happened is recorded first, whatever happens next;
    # transient failures are kept back for the next account when there is one.
    recorded, recorded_results = leg.after_call(chunk, results)
    _record_results(recorded, recorded_results, timezone.now(), batch)
    # Breaker and account health are advice for the next calls: best-effort.
    try:
        account_health_record(account, results, timezone.now())
    except Exception:
        logger.exception("health of account %s not recorded", account.pk)


def retry_delay(attempts: int, error: DeliveryError | None = None) -> float:
    """Exponential backoff with jitter; a provider's Retry-After wins when it is longer."""
    base = settings.TIDINGS_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1))
    delay = min(settings.TIDINGS_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.0)  # noqa: S311
    if error is not None and error.retry_after:
        delay = max(delay, min(error.retry_after, settings.TIDINGS_RETRY_MAX_SECONDS))
    return delay


def _budget_spent(message: Message, now: datetime) -> bool:
    """Has the message used up its retry window (counted from when it was first queued)?"""
    first = message.queued_at or message.created_at
    return (
        first is not None and (now - first).total_seconds() >= settings.TIDINGS_RETRY_WINDOW_SECONDS
    )


def _record_results(
    chunk: list[Message], results: list[SendResult], now: datetime, batch: _Batch
) -> None:
    sent: list[tuple[int, str]] = []
    # Same outcome and reason share one UPDATE: a batch has few distinct ones.
    finished: dict[tuple[str, str, datetime | None], list[int]] = defaultdict(list)
    events: list[EventRow] = []
    for message, result in zip(chunk, results, strict=True):
        if result.ok:
            sent.append((message.id, result.provider_message_id[:200]))
            events.append(EventRow(message.id, MessageState.SENT, now, result.provider_message_id))
            continue
        error = result.error
        # Transient errors retry for the retry window; the attempt cap is a backstop.
        if (
            error.permanent
            or message.attempts >= settings.TIDINGS_MAX_ATTEMPTS
            or _budget_spent(message, now)
        ):
            reason = (
                str(error)
                if error.permanent
                else f"gave up after {message.attempts} attempts: {error}"
            )
            finished[(MessageState.FAILED, reason[:2000], None)].append(message.id)
            events.append(EventRow(message.id, MessageState.FAILED, now, reason))
            continue
        due = now + timedelta(seconds=retry_delay(message.attempts, error))
        if message.expires_at is not None and due > message.expires_at:
            due = message.expires_at  # its TTL wins: the expiry rule ends it then
        next_attempt_at = batch.defer(message, due)
        finished[(MessageState.RETRYING, str(error)[:2000], next_attempt_at)].append(message.id)
        events.append(
            EventRow(
                message.id,
                MessageState.RETRYING,
                now,
                f"{error}; next attempt in {(next_attempt_at - now).total_seconds():.1f}s",
            )
        )
    released = {
        "updated_at": now,
        "lease_expires_at": None,
        "dispatched_at": None,
        "claim_token": None,
    }
    with transaction.atomic():
        if sent:
            ids = [pk for pk, _ in sent]
            Message.objects.filter(id__in=ids).update(
                state=MessageState.SENT,
                sent_at=now,
                last_error="",
                next_attempt_at=None,
                **released,
            )
            _set_provider_ids(sent)
        for (state, reason, next_attempt_at), ids in finished.items():
            Message.objects.filter(id__in=ids).update(
                state=state, last_error=reason, next_attempt_at=next_attempt_at, **released
            )
        events_record(events, messages=chunk)


def _set_provider_ids(pairs: list[tuple[int, str]]) -> None:
    """One statement for a whole batch of per-message provider ids."""
    pairs = [(pk, pid) for pk, pid in pairs if pid]
    if not pairs:
        return
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f'UPDATE "{table}" AS m SET provider_message_id = v.pid '  # noqa: S608 - our table name
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, pid) WHERE m.id = v.id",
                [[pk for pk, _ in pairs], [pid for _, pid in pairs]],
            )
        else:
            sql = f'UPDATE "{table}" SET provider_message_id = %s WHERE id = %s'  # noqa: S608
            cursor.executemany(sql, [(pid, pk) for pk, pid in pairs])
