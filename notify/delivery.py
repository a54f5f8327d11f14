"""The consumer side of a send: claim a batch, run the rules, call the provider, record.

Every step commits before the next, so a worker killed at any point leaves each message in
a state the sweeper or the redelivered task can finish from, and a message reported SENT
is never sent again.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

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
from notify.queueing import enqueue_delivery, lane, lane_backlog
from notify.rules.base import rules_run
from templates_app.models import MessageTemplate
from tracking.metrics import PROVIDER_LATENCY
from tracking.models import Message, MessageState
from tracking.services import EventRow, events_record

logger = logging.getLogger(__name__)

_CLAIM_FIELDS = (
    "id", "message_id", "app_id", "template_id", "channel", "account_id", "receiver", "biz_id",
    "variables", "content", "priority", "state", "attempts", "queued_at", "expires_at",
    "next_attempt_at", "dispatched_at",
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


def batch_deliver(message_ids: list[int]) -> None:
    now = timezone.now()
    claimed, token = messages_claim(message_ids, now)
    if not claimed:
        return
    events_record(_claim_events(claimed, now), messages=claimed)
    passed, outcome = rules_run(claimed, now)
    _record_rule_outcome(outcome, now)
    templates = MessageTemplate.objects.only("code", "message_type", "channel_account_id").in_bulk(
        {m.template_id for m in passed}
    )
    pinned = {t.channel_account_id for t in templates.values() if t.channel_account_id}
    accounts = ChannelAccount.objects.in_bulk({m.account_id for m in passed} | pinned)
    # Routing happens here, at send time: see channels_app.routing.
    for route in routes_plan(passed, templates, accounts):
        for leg in route:
            _deliver_via_account(leg, templates, token)
        if route.stranded:
            _record_stranded(route)


def _record_stranded(route: Route) -> None:
    """Messages no account took in this attempt (open breakers, every account failing):
    recorded as one attempt, retried or failed like any other."""
    messages = [message for message, _ in route.stranded]
    fresh = [message for message in messages if route.count_attempt(message)]
    if fresh:
        Message.objects.filter(id__in=[m.id for m in fresh]).update(attempts=F("attempts") + 1)
        for message in fresh:
            message.attempts += 1
    results = [SendResult(error=error) for _, error in route.stranded]
    _record_results(messages, results, timezone.now())


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


def _record_rule_outcome(outcome, now: datetime) -> None:
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
            deferred[not_before].append(message)
            events.append(EventRow(message.id, state, now, detail))
        requeue: dict[tuple[str, str, float], list[int]] = defaultdict(list)
        for not_before, messages in deferred.items():
            Message.objects.filter(id__in=[m.id for m in messages]).update(
                state=MessageState.QUEUED,
                next_attempt_at=not_before,
                lease_expires_at=None,
                updated_at=now,
            )
            delay = max(0.0, (not_before - now).total_seconds())
            if delay > settings.TIDINGS_COUNTDOWN_MAX_SECONDS:
                continue  # hours-long (quiet hours): the sweeper releases it when due
            for message in messages:
                requeue[(message.channel, message.priority, round(delay, 1))].append(message.id)
        involved = [m for m, *_ in (*outcome.noted, *outcome.stopped, *outcome.deferred)]
        events_record(events, messages=involved)
        for (channel, priority, delay), ids in requeue.items():
            transaction.on_commit(
                lambda c=channel, p=priority, d=delay, i=ids: enqueue_delivery(i, c, p, countdown=d)
            )


def _fail(messages: list[Message], error: DeliveryError) -> None:
    _record_results(messages, [SendResult(error=error)] * len(messages), timezone.now())


def _deliver_via_account(leg: Leg, templates: dict[int, MessageTemplate], token: uuid.UUID) -> None:
    account, messages = leg.account, leg.messages
    if account is None or not account.enabled:
        name = account.name if account else "none"
        _fail(
            messages,
            DeliveryError(
                f"channel account {name!r} is disabled", permanent=True, code="account_disabled"
            ),
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
        )
        return
    # Whatever an adapter or a library logs about this account, its credentials are masked.
    secrets_register(account_secret_values(account))
    adapter = adapter_class(account.config, base_url=account.base_url, account_id=account.pk)
    try:
        adapter.__enter__()
    except DeliveryError as error:  # e.g. the SMTP server is down: nothing was dispatched
        if error.permanent:
            _fail(messages, error)
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
            _dispatch(adapter, account, messages[start : start + size], templates, token, leg)
    finally:
        adapter.__exit__(None, None, None)


def _dispatch(
    adapter: ProviderAdapter,
    account: ChannelAccount,
    chunk: list[Message],
    templates: dict[int, MessageTemplate],
    token: uuid.UUID,
    leg: Leg,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        owned = set(
            Message.objects.select_for_update()
            .filter(id__in=[m.id for m in chunk], state=MessageState.SENDING, claim_token=token)
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
    # Breaker and account health; transient failures go to the next account.
    chunk, results = leg.after_call(chunk, results, timezone.now())
    _record_results(chunk, results, timezone.now())


def retry_delay(attempts: int, error: DeliveryError | None = None) -> float:
    """Exponential backoff with jitter; a provider's Retry-After wins when it is longer."""
    base = settings.TIDINGS_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1))
    delay = min(settings.TIDINGS_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.0)  # noqa: S311
    if error is not None and error.retry_after:
        delay = max(delay, min(error.retry_after, settings.TIDINGS_RETRY_MAX_SECONDS))
    return delay


def _record_results(chunk: list[Message], results: list[SendResult], now: datetime) -> None:
    sent: list[tuple[int, str]] = []
    # Same outcome and reason share one UPDATE: a batch has few distinct ones.
    finished: dict[tuple[str, str, datetime | None], list[int]] = defaultdict(list)
    events: list[EventRow] = []
    retry_groups: dict[tuple[str, str, float], list[int]] = defaultdict(list)
    for message, result in zip(chunk, results, strict=True):
        if result.ok:
            sent.append((message.id, result.provider_message_id[:200]))
            events.append(EventRow(message.id, MessageState.SENT, now, result.provider_message_id))
            continue
        error = result.error
        if error.permanent or message.attempts >= settings.TIDINGS_MAX_ATTEMPTS:
            reason = (
                str(error)
                if error.permanent
                else f"gave up after {message.attempts} attempts: {error}"
            )
            finished[(MessageState.FAILED, reason[:2000], None)].append(message.id)
            events.append(EventRow(message.id, MessageState.FAILED, now, reason))
            continue
        delay = round(retry_delay(message.attempts, error), 1)
        next_attempt_at = now + timedelta(seconds=delay)
        finished[(MessageState.RETRYING, str(error)[:2000], next_attempt_at)].append(message.id)
        retry_groups[(message.channel, message.priority, delay)].append(message.id)
        events.append(
            EventRow(
                message.id, MessageState.RETRYING, now, f"{error}; next attempt in {delay:.1f}s"
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
    for (channel, priority, delay), ids in retry_groups.items():
        try:
            enqueue_delivery(ids, channel, priority, countdown=delay)
        except Exception:
            logger.exception("broker unavailable: %d retries left for the sweeper", len(ids))


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


def messages_requeue_stuck(now: datetime | None = None, limit: int = 100_000) -> int:
    """Re-enqueue messages no worker is moving (a broker that lost its data, a dead worker).

    ACCEPTED/QUEUED messages are re-published only when their lane's broker queue is empty
    (otherwise they are most likely still waiting in it); messages whose claim lease ran out
    are always re-published. The claim makes a duplicate task harmless.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.TIDINGS_STUCK_AFTER_SECONDS)
    waiting = Q(
        state__in=[MessageState.ACCEPTED, MessageState.QUEUED],
        next_attempt_at__isnull=True,
        updated_at__lt=stale,
    )
    # Deferred (quiet hours, throttling) or retrying messages whose time has come: long
    # deferrals have no countdown task at all, and a lost countdown is caught here too.
    due = now - timedelta(seconds=settings.TIDINGS_RELEASE_GRACE_SECONDS)
    overdue = Q(state__in=[MessageState.QUEUED, MessageState.RETRYING], next_attempt_at__lt=due)
    abandoned = Q(state=MessageState.SENDING, lease_expires_at__lt=now)
    rows = list(
        Message.objects.filter(waiting | overdue | abandoned)
        .order_by("id")
        .values_list("id", "channel", "priority", "state", "next_attempt_at")[:limit]
    )
    lanes: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    why: dict[int, str] = {}
    for pk, channel, priority, state, next_attempt_at in rows:
        lanes[(channel, priority)].append((pk, state))
        if state == MessageState.SENDING:
            why[pk] = "its worker's lease ran out"
        elif next_attempt_at is not None:
            why[pk] = f"due since {next_attempt_at.isoformat(timespec='seconds')} and not picked up"
        else:
            why[pk] = f"no progress for {settings.TIDINGS_STUCK_AFTER_SECONDS}s"
    requeued = 0
    for (channel, priority), members in lanes.items():
        backlog = lane_backlog(lane(channel, priority))
        ids = [pk for pk, state in members if state == MessageState.SENDING or not backlog]
        if not ids:
            continue
        with transaction.atomic():
            Message.objects.filter(
                id__in=ids,
                state__in=[MessageState.ACCEPTED, MessageState.QUEUED],
                next_attempt_at__isnull=True,
            ).update(updated_at=now)
            Message.objects.filter(
                id__in=ids,
                state__in=[MessageState.QUEUED, MessageState.RETRYING],
                next_attempt_at__isnull=False,
            ).update(next_attempt_at=now, updated_at=now)
            events_record(
                EventRow(pk, MessageState.QUEUED, now, f"re-enqueued: {why[pk]}") for pk in ids
            )
            transaction.on_commit(lambda i=ids, c=channel, p=priority: enqueue_delivery(i, c, p))
        requeued += len(ids)
    if requeued:
        logger.warning("re-enqueued %d stuck messages", requeued)
    return requeued
