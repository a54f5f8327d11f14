"""The consumer side of a send, top to bottom: claim a batch (`messages_claim`), run the
rules (notify.rules), route (channels_app.routing decides which account), dispatch (here:
one `send` call per chunk for a batch API, the runner of channels_app.providers.runner for
one-message-per-request providers), record (notify.recording).

Every step commits before the next, so a worker killed at any point leaves each message in
a state the sweeper or the redelivered task can finish from, and a message reported SENT
is never sent again; what may reach a provider twice is bounded by the batch contract
(docs/architecture.md).
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult
from channels_app.providers.registry import UnknownProvider, get_adapter_class
from channels_app.providers.runner import Runner
from channels_app.routing import Leg, account_health_record, routes_plan
from channels_app.secrets import account_secret_values
from config.logredact import secrets_register
from config.rows import instances_from_rows, native_loaders
from notify.queueing import lane
from notify.recording import (
    Batch,
    lease_until,
    record_results,
    record_rule_outcome,
    record_stranded,
)
from notify.rules.base import rules_run
from templates_app.models import MessageTemplate
from tracking.metrics import PROVIDER_LATENCY
from tracking.models import Message, MessageState
from tracking.services import EventRow, events_record, reclaimed_attempts_count

logger = logging.getLogger(__name__)

_CLAIM_FIELDS = (
    "id", "message_id", "app_id", "template_id", "channel", "account_id", "receiver", "biz_id",
    "variables", "content", "priority", "state", "attempts", "created_at", "queued_at",
    "expires_at", "next_attempt_at", "resent_from_id", "ignore_quiet_hours",
)  # fmt: skip
# Countdown ETAs fire on the worker's clock; allow a little skew before a retry is "due".
_DUE_SLACK = timedelta(seconds=0.5)


def _claimable(now: datetime) -> Q:
    waiting = Q(state__in=[MessageState.ACCEPTED, MessageState.QUEUED, MessageState.RETRYING]) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + _DUE_SLACK)
    )
    abandoned = Q(state=MessageState.SENDING, lease_expires_at__lt=now)
    return waiting | abandoned


def messages_claim(message_ids: list[int], now: datetime) -> tuple[list[Message], uuid.UUID]:
    """Atomically move the claimable messages to SENDING under a new claim token, with
    their claim events; a duplicate task gets none. The returned rows carry the state they
    were claimed from (the claim events and the rules read it)."""
    token = uuid.uuid4()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            claimed = _claim_returning(message_ids, now, token)
        else:
            claimed = list(
                Message.objects.select_for_update(skip_locked=True)
                .filter(_claimable(now), id__in=message_ids)
                .only(*_CLAIM_FIELDS)
                .order_by("id")
            )
            if claimed:
                Message.objects.filter(id__in=[m.id for m in claimed]).update(
                    state=MessageState.SENDING,
                    lease_expires_at=lease_until(now),
                    claim_token=token,
                    updated_at=now,
                )
        if claimed:
            reclaimed = [m.id for m in claimed if m.state == MessageState.SENDING]
            in_doubt = reclaimed_attempts_count(reclaimed)
            for message in claimed:
                message.attempts += message.id in in_doubt
            derived, stored = _claim_events(claimed, in_doubt, now)
            # One event row per message fewer to write than when every QUEUED was stored.
            events_record(derived, messages=claimed, store=False)
            events_record(stored, messages=claimed)
    return claimed, token


def _claim_returning(message_ids: list[int], now: datetime, token: uuid.UUID) -> list[Message]:
    """The claim in one statement: lock what is claimable (skipping rows another worker
    holds), update it and read it back, the state it was claimed from included."""
    if not message_ids:
        return []
    quote = connection.ops.quote_name
    table = quote(Message._meta.db_table)
    returned = ", ".join(
        "c.state" if name == "state" else f"m.{quote(Message._meta.get_field(name).column)}"
        for name in _CLAIM_FIELDS
    )
    # The lock-and-select is the ORM's own query (the same `_claimable` as elsewhere).
    locked = (
        Message.objects.select_for_update(skip_locked=True)
        .filter(_claimable(now), id__any=message_ids)
        .order_by("id")
        .values("id", "state")
    )
    select_sql, select_params = locked.query.sql_with_params()
    sql = (
        f"WITH c AS ({select_sql}) "  # noqa: S608 - our table and columns
        f"UPDATE {table} AS m SET state = %s, lease_expires_at = %s, claim_token = %s, "
        f"updated_at = %s FROM c WHERE m.id = c.id RETURNING {returned}"
    )
    params = [*select_params, MessageState.SENDING, lease_until(now), token, now]
    with connection.cursor() as cursor:
        native_loaders(cursor)  # JSON and dates converted as the fields would, in C
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    claimed = instances_from_rows(Message, _CLAIM_FIELDS, rows, connection.alias)
    claimed.sort(key=lambda m: m.id)
    return claimed


def batch_deliver(message_ids: list[int]) -> None:
    now = timezone.now()
    claimed, token = messages_claim(message_ids, now)
    if not claimed:
        return
    batch = Batch(token, [m.id for m in claimed])
    try:
        passed, outcome = rules_run(claimed, now)
        record_rule_outcome(outcome, now, batch)
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
                record_stranded(route, batch)
    finally:
        batch.publish()


def _claim_events(
    claimed: list[Message], in_doubt: set[int], now: datetime
) -> tuple[list[EventRow], list[EventRow]]:
    """The QUEUED events of a claim, as (derived, stored): a first claim's is derived from
    the row's queued_at (Message.trace_events), so it is only counted and called back; a
    reclaim from a stopped worker is stored, with what happened."""
    derived, stored = [], []
    for message in claimed:
        if (
            message.state in (MessageState.ACCEPTED, MessageState.QUEUED)
            and message.attempts == 0
            and message.next_attempt_at is None
        ):
            detail = f"lane {lane(message.channel, message.priority)}"
            if message.queued_at is None:  # not published by the pipeline: nothing to derive
                stored.append(EventRow(message.id, MessageState.QUEUED, now, detail))
            else:
                derived.append(EventRow(message.id, MessageState.QUEUED, message.queued_at, detail))
        elif message.state == MessageState.SENDING:
            detail = "reclaimed: the worker that held it stopped"
            if message.id in in_doubt:
                detail += "; the previous attempt may have reached the provider, resent with the same message_id"
            stored.append(EventRow(message.id, MessageState.QUEUED, now, detail))
    return derived, stored


def _fail(messages: list[Message], error: DeliveryError, batch: Batch) -> None:
    record_results(messages, [SendResult(error=error)] * len(messages), timezone.now(), batch)


def _adapter_for(account: ChannelAccount | None) -> ProviderAdapter | DeliveryError:
    """The account's adapter, or the permanent error that fails its messages."""
    if account is None or not account.enabled:
        name = account.name if account else "none"
        return DeliveryError(
            f"channel account {name!r} is disabled", permanent=True, code="account_disabled"
        )
    try:
        adapter_class = get_adapter_class(account.provider)
    except UnknownProvider:
        return DeliveryError(
            f"unknown provider {account.provider!r}", permanent=True, code="unknown_provider"
        )
    # Whatever an adapter or a library logs about this account, its credentials are masked.
    secrets_register(account_secret_values(account))
    return adapter_class(account.config, base_url=account.base_url, account_id=account.pk)


def _deliver_via_account(leg: Leg, templates: dict[int, MessageTemplate], batch: Batch) -> None:
    account, messages = leg.account, leg.messages
    adapter = _adapter_for(account)
    if isinstance(adapter, DeliveryError):
        _fail(messages, adapter, batch)
        return
    with ExitStack() as stack:
        try:
            stack.enter_context(adapter)
        except DeliveryError as error:  # e.g. the SMTP server is down: nothing was dispatched
            if error.permanent:
                _fail(messages, error, batch)
            else:
                account_health_record(account, [SendResult(error=error)], timezone.now())
                leg.hand_over(messages, error)  # to the next account, or retried later
            return
        if adapter.single_request:
            _dispatch_concurrently(adapter, leg, templates, batch)
            return
        size = adapter.batch_size
        for start in range(0, len(messages), size):
            if start and not leg.allowed():
                # The breaker opened during this batch: stop calling a provider that is down.
                leg.hand_over(messages[start:], _circuit_open(account))
                break
            batch.keep_lease()
            _dispatch(adapter, messages[start : start + size], templates, batch, leg)


def _circuit_open(account: ChannelAccount) -> DeliveryError:
    return DeliveryError(f"circuit open for {account.name}", code="circuit_open")


def _dispatch_record(chunk: list[Message], batch: Batch, leg: Leg) -> list[Message]:
    """Before the calls: the messages this batch still owns get their attempt counted and a
    SENDING event, committed before any request goes out (a worker that stops after this
    leaves them in doubt, see tracking.services.reclaimed_attempts_count). The message rows
    are not written: the lease (kept by `batch.keep_lease`, called before every dispatch)
    says the batch still owns them, and the attempt count is written with the result.
    Returns them."""
    account, now = leg.account, timezone.now()
    chunk = [m for m in chunk if m.id in batch.owned]
    if not chunk:
        return chunk
    # Failing over to another account continues the same attempt.
    for message in chunk:
        if leg.route.count_attempt(message):
            leg.counted.add(message.id)
            message.attempts += 1
    note = leg.sending_note()
    with transaction.atomic():
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
    return chunk


def _outbound(message: Message, templates: dict[int, MessageTemplate]) -> OutboundMessage:
    template = templates.get(message.template_id)
    return OutboundMessage(
        id=message.id,
        message_id=str(message.message_id),
        receiver=message.receiver,
        content=message.content,
        variables=message.variables,
        biz_id=message.biz_id,
        template_code=template.code if template else "",
        message_type=template.message_type if template else "notice",
    )


def _dispatch(
    adapter: ProviderAdapter,
    chunk: list[Message],
    templates: dict[int, MessageTemplate],
    batch: Batch,
    leg: Leg,
) -> None:
    """One `send` call of a batch-capable adapter."""
    account = leg.account
    chunk = _dispatch_record(chunk, batch, leg)
    if not chunk:
        return
    outbound = [_outbound(m, templates) for m in chunk]
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
    _record_call(chunk, results, batch, leg)


def _dispatch_concurrently(
    adapter: ProviderAdapter, leg: Leg, templates: dict[int, MessageTemplate], batch: Batch
) -> None:
    """A single-request adapter: up to the account's max_in_flight requests at once (see
    channels_app.providers.runner), each group of results recorded as it completes."""
    account = leg.account
    batch.keep_lease()
    chunk = _dispatch_record(leg.messages, batch, leg)
    if not chunk:
        return

    runner = Runner(
        adapter,
        [_outbound(m, templates) for m in chunk],
        account.max_in_flight,
        permit=leg.permit_next,
        first_permit=leg.permit,
        refused=lambda: _circuit_open(account),
    )
    for group in runner:
        for done in group:
            outcome = "ok" if done.result.ok else "error"
            PROVIDER_LATENCY.labels(account.provider, outcome).observe(done.seconds)
        results = [d.result for d in group]
        _record_call([chunk[d.index] for d in group], results, batch, leg, per_message=True)
        batch.keep_lease()
    if runner.unsent:
        _unsent_record([chunk[i] for i in runner.unsent], runner.stopped_by, batch, leg)


def _unsent_record(
    unsent: list[Message], error: DeliveryError | None, batch: Batch, leg: Leg
) -> None:
    """Messages the runner stopped before calling for. A permanent account-wide error
    (credentials refused) fails them with it, as the provider would; otherwise they are
    handed back without an attempt: to the next account, or held for a later try."""
    assert error is not None
    if error.permanent:
        _record_call(unsent, [SendResult(error=error)] * len(unsent), batch, leg)
        return
    leg.hand_back(unsent, error)


def _record_call(
    chunk: list[Message],
    results: list[SendResult],
    batch: Batch,
    leg: Leg,
    per_message: bool = False,
) -> None:
    # The result of a call that happened is recorded first, whatever happens next;
    # transient failures are kept back for the next account when there is one.
    recorded, recorded_results = leg.after_call(chunk, results)
    record_results(recorded, recorded_results, timezone.now(), batch)
    # Breaker and account health are advice for the next calls: best-effort.
    try:
        account_health_record(leg.account, results, timezone.now(), per_message)
    except Exception:
        logger.exception("health of account %s not recorded", leg.account.pk)
