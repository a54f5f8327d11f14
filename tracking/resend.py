"""Resend: linked copies of final messages, accepted and enqueued like any other (an operator
action and the replay's engine, above the message store and the lanes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from notify.models import SendRequest
from notify.queueing import enqueue_accepted
from tracking.clicks import content_restore
from tracking.models import ACTIVE_STATES, Message, MessageState, TrackedLink
from tracking.services import EventRow, events_record


class NotResendable(Exception):
    pass


# What the ACCEPTED event of a resend says: an operator asked for it, so content dedup and
# the frequency cap let it through (opt-outs, discard and quiet hours still apply).
RESEND_DETAIL = "resend of {original} (operator intent: content dedup and frequency cap skipped)"


def message_resend(
    message: Message, now: datetime | None = None, *, ignore_quiet_hours: bool = False
) -> Message:
    """A new message with the original's receiver, content and priority, linked to it,
    accepted and enqueued like any other."""
    if message.state in (*ACTIVE_STATES, MessageState.SCHEDULED):
        raise NotResendable(f"the message is still {message.state}; wait for a final state")
    return messages_resend([message], now, ignore_quiet_hours=ignore_quiet_hours)[0]


def messages_resend(
    messages: Sequence[Message],
    now: datetime | None = None,
    *,
    note: str = "",
    ignore_quiet_hours: bool = False,
) -> list[Message]:
    """Resend many final messages at once: one SendRequest per (template, priority), the
    copies inserted in bulk, linked to their originals, enqueued after commit. `note` is
    appended to each copy's ACCEPTED event (e.g. which replay made it)."""
    now = now or timezone.now()
    # Only messages with tracked links need their content restored (one query for all).
    tracked = set(
        TrackedLink.objects.filter(message_id__in=[m.pk for m in messages]).values_list(
            "message_id", flat=True
        )
    )
    groups: dict[tuple[int, int, str], list[Message]] = {}
    for message in messages:
        groups.setdefault((message.app_id, message.template_id, message.priority), []).append(
            message
        )
    copies: list[Message] = []
    with transaction.atomic():
        for (app_id, template_id, priority), group in groups.items():
            request = SendRequest.objects.create(
                app_id=app_id, template_id=template_id, priority=priority, accepted_count=len(group)
            )
            made = Message.objects.bulk_create(
                [
                    _resend_copy(
                        message,
                        request,
                        now,
                        content_restore(message) if message.pk in tracked else message.content,
                        ignore_quiet_hours,
                    )
                    for message in group
                ],
                batch_size=1000,
            )
            _resend_record(made, group, request.pk, priority, now, note, ignore_quiet_hours)
            copies.extend(made)
    return copies


def _resend_record(
    made: list[Message],
    group: list[Message],
    request_pk: int,
    priority: str,
    now: datetime,
    note: str,
    ignore_quiet_hours: bool,
) -> None:
    """The copies' ACCEPTED events, and their publishing once the transaction commits."""
    detail = RESEND_DETAIL
    if ignore_quiet_hours:
        detail += "; sent even in quiet hours (the caller asked)"
    if note:
        detail += f"; {note}"
    events_record(
        [
            EventRow(copy.pk, MessageState.ACCEPTED, now, detail.format(original=m.message_id))
            for copy, m in zip(made, group, strict=True)
        ],
        messages=made,
    )
    for channel in sorted({c.channel for c in made}):
        ids = [c.pk for c in made if c.channel == channel]
        transaction.on_commit(partial(enqueue_accepted, request_pk, ids, channel, priority))


def _resend_copy(
    message: Message, request: Any, now: datetime, content: dict, ignore_quiet_hours: bool
) -> Message:
    ttl = message.expires_at - message.created_at if message.expires_at else None
    return Message(
        app_id=message.app_id,
        request=request,
        template_id=message.template_id,
        channel=message.channel,
        account_id=message.account_id,
        receiver=message.receiver,
        biz_id=message.biz_id,
        variables=message.variables,
        # Tracked links point at the original's tokens: send the real URLs again, the
        # click-tracking rule gives the copy its own.
        content=content,
        priority=message.priority,
        state=MessageState.ACCEPTED,
        created_at=now,
        updated_at=now,
        expires_at=now + ttl if ttl else None,
        resent_from_id=message.pk,
        ignore_quiet_hours=ignore_quiet_hours,
        locale=message.locale,  # the same variant as the original
    )
