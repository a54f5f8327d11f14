"""Recall: withdraw sent messages at their provider (an operator action, above the message
store and the provider registry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError
from channels_app.providers.registry import UnknownProvider, get_adapter_class
from tracking.models import Message, MessageState
from tracking.services import messages_advance

# A message the provider has (or may have) shown to its receiver.
RECALLABLE_STATES = (
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.READ,
    MessageState.CLICKED,
)


class RecallOutcome(NamedTuple):
    recalled: list[Message]
    # (message, reason): cannot be withdrawn (state, or a provider without recall)
    not_recallable: list[tuple[Message, str]]
    # (message, reason): the provider refused or failed the withdrawal
    failed: list[tuple[Message, str]]


def recall_problem(message: Message, accounts: dict[int, Any]) -> str:
    """Why `message` cannot be withdrawn, or "" when it can."""
    if message.state == MessageState.RECALLED:
        return "the message is already recalled"
    if message.state not in RECALLABLE_STATES:
        return f"a {message.state} message has nothing to withdraw"
    account = accounts.get(message.account_id) if message.account_id else None
    if account is None:
        return "the message has no channel account"
    try:
        adapter_class = get_adapter_class(account.provider)
    except UnknownProvider:
        return f"unknown provider {account.provider!r}"
    if not callable(getattr(adapter_class, "recall", None)):
        return f"{adapter_class.label} ({account.provider}) cannot withdraw sent messages"
    if not message.provider_message_id:
        return "the provider returned no message id to withdraw by"
    return ""


def messages_recall(messages: list[Message], now: datetime | None = None) -> RecallOutcome:
    """Withdraw sent messages at their provider, one call per provider message id, and mark
    them RECALLED. A provider id that covers several receivers (DingTalk task_id, WeCom
    msgid) is withdrawn from all of them, so all of their messages become RECALLED."""
    now = now or timezone.now()
    accounts = ChannelAccount.objects.in_bulk({m.account_id for m in messages if m.account_id})
    outcome = RecallOutcome([], [], [])
    groups: dict[tuple[int, str], list[Message]] = {}
    for message in messages:
        problem = recall_problem(message, accounts)
        if problem:
            outcome.not_recallable.append((message, problem))
        else:
            assert message.account_id is not None  # recall_problem checked the account
            groups.setdefault((message.account_id, message.provider_message_id), []).append(message)
    for (account_id, provider_id), group in groups.items():
        account = accounts[account_id]
        adapter = get_adapter_class(account.provider)(
            account.config, base_url=account.base_url, account_id=account.pk
        )
        try:
            adapter.recall(provider_id)  # type: ignore[attr-defined]  # optional: recall_problem checked it
        except DeliveryError as error:
            outcome.failed.extend((m, str(error)) for m in group)
            continue
        siblings = list(
            Message.objects.filter(account_id=account_id, provider_message_id=provider_id)
            .order_by("id")
            .values_list("id", flat=True)
        )
        detail = f"withdrawn via {account.provider}"
        if len(siblings) > 1:
            detail += f" (provider id {provider_id} covers {len(siblings)} receivers)"
        messages_advance(siblings, MessageState.RECALLED, now, detail)
        outcome.recalled.extend(group)
    return outcome
