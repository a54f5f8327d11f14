"""Which account sends a message, decided in the worker at send time.

A template that names an account is pinned to it. Otherwise the message goes to one of the
App's enabled accounts for its channel, drawn by weight (per message type when the account
says so); the others follow in weighted order as failovers. A provider call that fails
transiently, or an account whose circuit breaker is open, passes the message on to the next
account within the same attempt; only when none is left is a retry scheduled. A message that
no account was even called for (every breaker open) was held back, not attempted: it waits
for the breaker without spending an attempt.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import F

from channels_app.breaker import (
    REFUSED,
    breaker_health,
    breaker_permit,
    breaker_permit_waiting,
    breaker_record_calls,
)
from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError, SendResult
from tracking.models import Message

if TYPE_CHECKING:
    from templates_app.models import MessageTemplate

logger = logging.getLogger(__name__)

# Success is written to the account row at most this often (failures always are).
_HEALTH_WRITE_INTERVAL = timedelta(seconds=5)


@dataclass
class Route:
    """Messages that share an ordered list of candidate accounts."""

    candidates: list[ChannelAccount]
    messages: list[Message]
    routed: bool
    # Messages no account took (open breakers, or transient failures with no account
    # left after them), with the error to record.
    stranded: list[tuple[Message, DeliveryError]] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    _counted: set[int] = field(default_factory=set)
    # Messages a runner stopped before calling for them (see Leg.hand_back).
    _unsent: set[int] = field(default_factory=set)
    _carry: list[tuple[Message, DeliveryError]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Leg]:
        pending = self.messages
        last_error: dict[int, DeliveryError] = {}
        for index, account in enumerate(self.candidates):
            if not pending:
                return
            # A disabled (pinned) account is handed over as it is: the delivery code fails
            # its messages permanently and says why.
            last = index == len(self.candidates) - 1
            # The last candidate is worth waiting for on a half-open ramp: there is no other.
            permit = (breaker_permit_waiting if last else breaker_permit)(account)
            if account.enabled and permit == REFUSED:
                self.skipped.append(account.name)
                continue
            leg = Leg(account, pending, self, last=last, permit=permit)
            yield leg
            self.tried.append(account.name)
            pending = [message for message, _ in self._carry]
            last_error = {message.id: error for message, error in self._carry}
            self._carry = []
        if pending:
            self.stranded.extend(
                (message, last_error.get(message.id) or self._circuit_open_error())
                for message in pending
            )

    def count_attempt(self, message: Message) -> bool:
        """True the first time a message is tried in this route: failing over to the next
        account is part of the same attempt."""
        if message.id in self._counted:
            return False
        self._counted.add(message.id)
        return True

    def held(self, message: Message, error: DeliveryError) -> bool:
        """Did an open breaker, or a runner that stopped issuing, keep this message from
        every provider in this attempt?"""
        if message.id in self._counted:
            return False
        return error.code == "circuit_open" or message.id in self._unsent

    def _circuit_open_error(self) -> DeliveryError:
        try:
            health = breaker_health(self.candidates)
        except Exception:  # noqa: BLE001 - only the wait is lost; the caller holds the messages
            logger.warning("breaker health unreadable", exc_info=True)
            health = {}
        waits = [h.retry_in for h in health.values() if h.retry_in > 0]
        names = ", ".join(self.skipped) or "none"
        return DeliveryError(
            f"circuit open for every account ({names})",
            code="circuit_open",
            retry_after=min(waits) if waits else None,
        )


@dataclass
class Leg:
    """One account's turn within a route."""

    account: ChannelAccount
    messages: list[Message]
    route: Route
    last: bool
    # What the breaker answered for this leg's first call (breaker.RAMP: half-open).
    permit: int = 0
    # Messages whose attempt was counted by this leg's call (not by an earlier account's).
    counted: set[int] = field(default_factory=set)

    def sending_note(self) -> str:
        notes = []
        if self.route.routed and not self.route.tried:
            notes.append("routed by weight")
        if self.route.tried:
            notes.append(f"failover after {', '.join(self.route.tried)}")
        if self.route.skipped:
            notes.append(f"skipped {', '.join(self.route.skipped)} (circuit open)")
        return f"; {'; '.join(notes)}" if notes else ""

    def allowed(self) -> bool:
        """Re-checked between chunks: the breaker may open in the middle of a batch."""
        return self.permit_next() != REFUSED

    def permit_next(self) -> int:
        """The breaker's answer for the next call (the last account waits out a ramp)."""
        self.permit = (breaker_permit_waiting if self.last else breaker_permit)(self.account)
        return self.permit

    def after_call(
        self, chunk: list[Message], results: list[SendResult]
    ) -> tuple[list[Message], list[SendResult]]:
        """Returns what to record now; transient failures are kept back for the next account
        when there is one. (The breaker and the account's health are recorded by the caller,
        after the results: see account_health_record.)"""
        moved = [m.id for m in chunk if m.account_id != self.account.pk]
        if moved:
            Message.objects.filter(id__in=moved).update(account_id=self.account.pk)
            for message in chunk:
                message.account_id = self.account.pk
        if self.last:
            return chunk, results
        kept_messages, kept_results = [], []
        for message, result in zip(chunk, results, strict=True):
            if result.error is not None and not result.error.permanent:
                self.route._carry.append((message, result.error))
            else:
                kept_messages.append(message)
                kept_results.append(result)
        return kept_messages, kept_results

    def hand_back(self, unsent: list[Message], error: DeliveryError) -> None:
        """Messages this leg counted an attempt for but never called (the runner stopped):
        the attempt is taken back (it is written with their outcome) and they are handed
        over."""
        for message in unsent:
            if message.id in self.counted:
                self.counted.discard(message.id)
                self.route._counted.discard(message.id)
                message.attempts -= 1
            self.route._unsent.add(message.id)
        self.hand_over(unsent, error)

    def hand_over(self, chunk: list[Message], error: DeliveryError) -> None:
        """Messages this account did not call for (open breaker, failed connection)."""
        if error.permanent:
            raise ValueError("only transient errors are handed over")
        self.route._carry.extend((message, error) for message in chunk)


def _call_outcomes(results: list[SendResult], per_message: bool) -> list[bool]:
    """What the breaker counts: True for an answered call (a permanent error is about the
    message, not the account), False for a failed one; a provider asking us to slow down is
    not down, so a rate-limited call is not counted. A batch call is one call."""
    if not per_message:
        errors = [r.error for r in results if r.error is not None]
        if len(errors) < len(results) or all(e.permanent for e in errors):
            return [True]
        error = next(e for e in errors if not e.permanent)
        return [] if error.rate_limited else [False]
    return [
        r.error is None or r.error.permanent
        for r in results
        if r.error is None or r.error.permanent or not r.error.rate_limited
    ]


def account_health_record(
    account: ChannelAccount, results: list[SendResult], now: datetime, per_message: bool = False
) -> None:
    """Breaker plus the account's health columns, after one provider call (`per_message`:
    after a group of single-message calls, each counted by the breaker)."""
    breaker_record_calls(account, _call_outcomes(results, per_message))
    errors = [r.error for r in results if r.error is not None]
    accounts = ChannelAccount.objects.filter(pk=account.pk)
    if len(errors) < len(results) or all(e.permanent for e in errors):
        if len(errors) == len(results):
            return
        stale = (
            account.last_success_at is None
            or now - account.last_success_at > _HEALTH_WRITE_INTERVAL
        )
        if account.consecutive_failures or stale:
            accounts.update(last_success_at=now, consecutive_failures=0)
            account.last_success_at, account.consecutive_failures = now, 0
        return
    error = next(e for e in errors if not e.permanent)
    accounts.update(
        last_failure_at=now,
        last_error=str(error)[:1000],
        consecutive_failures=F("consecutive_failures") + 1,
    )
    account.last_failure_at, account.last_error = now, str(error)[:1000]
    account.consecutive_failures += 1


def _weighted_order(accounts: list[ChannelAccount], message_type: str) -> list[ChannelAccount]:
    """A weighted shuffle (Efraimidis-Spirakis): the first is drawn with probability
    weight / total, and so on down the list."""
    keyed = [
        (random.random() ** (1 / account.weight_for(message_type)), account)  # noqa: S311
        for account in accounts
    ]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [account for _, account in keyed]


def routes_plan(
    messages: list[Message],
    templates: dict[int, MessageTemplate],
    accounts: dict[int, ChannelAccount],
) -> list[Route]:
    """Group a claimed batch into routes. `accounts` holds the messages' current accounts
    (pinned ones among them); the routed candidates are loaded here in one query."""
    pinned: dict[int | None, list[Message]] = defaultdict(list)
    unpinned: list[Message] = []
    for message in messages:
        template = templates.get(message.template_id)
        if template is not None and template.channel_account_id:
            pinned[template.channel_account_id].append(message)
        else:
            unpinned.append(message)
    routes = [
        Route([accounts[pk]] if pk in accounts else [], group, routed=False)
        for pk, group in pinned.items()
    ]
    if not unpinned:
        return routes
    pool: dict[tuple[int, str], list[ChannelAccount]] = defaultdict(list)
    for account in ChannelAccount.objects.filter(
        app_id__in={m.app_id for m in unpinned},
        channel__in={m.channel for m in unpinned},
        enabled=True,
    ).order_by("id"):
        pool[(account.app_id, account.channel)].append(account)
    grouped: dict[tuple[int, ...], list[Message]] = defaultdict(list)
    by_id: dict[int, ChannelAccount] = {}
    no_account: list[Message] = []
    for message in unpinned:
        template = templates.get(message.template_id)
        message_type = template.message_type if template is not None else "notice"
        eligible = [
            a for a in pool[(message.app_id, message.channel)] if a.weight_for(message_type) > 0
        ]
        if not eligible:
            no_account.append(message)
            continue
        order = _weighted_order(eligible, message_type)
        by_id.update((a.pk, a) for a in order)
        grouped[tuple(a.pk for a in order)].append(message)
    routes += [
        Route([by_id[pk] for pk in key], group, routed=True) for key, group in grouped.items()
    ]
    if no_account:
        error = DeliveryError(
            "no enabled account for this channel takes this message type",
            permanent=True,
            code="no_account",
        )
        routes.append(Route([], [], routed=True, stranded=[(m, error) for m in no_account]))
    return routes
