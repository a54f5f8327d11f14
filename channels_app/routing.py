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
    breaker_allow,
    breaker_allow_waiting,
    breaker_health,
    breaker_record_failure,
    breaker_record_success,
)
from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError, SendResult

if TYPE_CHECKING:
    from templates_app.models import MessageTemplate
    from tracking.models import Message

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
            allow = breaker_allow_waiting if last else breaker_allow
            if account.enabled and not allow(account):
                self.skipped.append(account.name)
                continue
            leg = Leg(account, pending, self, last=last)
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
        """Did an open breaker keep this message from every provider in this attempt?"""
        return error.code == "circuit_open" and message.id not in self._counted

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
        return breaker_allow_waiting(self.account) if self.last else breaker_allow(self.account)

    def after_call(
        self, chunk: list[Message], results: list[SendResult]
    ) -> tuple[list[Message], list[SendResult]]:
        """Returns what to record now; transient failures are kept back for the next account
        when there is one. (The breaker and the account's health are recorded by the caller,
        after the results: see account_health_record.)"""
        moved = [m.id for m in chunk if m.account_id != self.account.pk]
        if moved:
            from tracking.models import Message

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

    def hand_over(self, chunk: list[Message], error: DeliveryError) -> None:
        """Messages this account did not call for (open breaker, failed connection)."""
        if error.permanent:
            raise ValueError("only transient errors are handed over")
        self.route._carry.extend((message, error) for message in chunk)


def account_health_record(
    account: ChannelAccount, results: list[SendResult], now: datetime
) -> None:
    """Breaker plus the account's health columns, after one provider call."""
    errors = [r.error for r in results if r.error is not None]
    accounts = ChannelAccount.objects.filter(pk=account.pk)
    if len(errors) < len(results) or all(e.permanent for e in errors):
        # The provider answered: permanent errors are about the message, not the account.
        breaker_record_success(account)
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
    if not error.rate_limited:  # a provider asking us to slow down is not down
        breaker_record_failure(account)
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
