"""The sweeper (beat, every TIDINGS_SWEEP_INTERVAL_SECONDS): re-publishes messages whose task
is lost, and only those.

Taken for certain: messages the broker refused (ACCEPTED) and messages whose worker's lease
ran out (SENDING). Plausibly lost, and re-published: waiting messages (QUEUED untouched for
TIDINGS_STUCK_AFTER_SECONDS, or deferred/retrying and due since TIDINGS_RELEASE_GRACE_SECONDS)
whose lane has since started a task that entered the queue after theirs could have
(notify/lane_progress.py: the lane is FIFO, so their task was taken off it and never ran,
e.g. held by a SIGKILLed worker), or whose lane started no task for
TIDINGS_STUCK_AFTER_SECONDS (idle: the broker lost it). A message merely queued behind a
moving backlog is late, not lost: it is left alone, and re-published anyway only
TIDINGS_LOST_TASK_MAX_SECONDS after its last publish.

So a lost task is re-published within the time its lane takes to reach the point where it
was queued (what it would have waited anyway) plus the publish slack and one sweep, at most
TIDINGS_LOST_TASK_MAX_SECONDS; duplicates are harmless (the claim takes a message once).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notify.lane_progress import lane_progress, publish_slack
from notify.queueing import enqueue_delivery, lane
from tracking.models import Message, MessageState
from tracking.services import EventRow, events_record, reclaimed_attempts_count

logger = logging.getLogger(__name__)


def _entered_before(moment: datetime) -> Q:
    """Messages whose task (if any) entered their lane before `moment`: published when the
    row was last written, or, where the broker holds countdowns, when it fell due."""
    return Q(updated_at__lt=moment) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=moment)
    )


def _lost(waiting: Q, now: datetime) -> tuple[Q, dict[str, str]]:
    """Which of the `waiting` messages lost their task, and why, per lane."""
    found = Message.objects.filter(waiting).values_list("channel", "priority").distinct()
    lanes = {lane(channel, priority): (channel, priority) for channel, priority in found}
    try:
        marks = lane_progress(list(lanes))
    except Exception:  # noqa: BLE001 - no answer: every lane counts as idle
        logger.warning("lane progress unavailable", exc_info=True)
        marks = {}
    slack = timedelta(seconds=publish_slack())
    stale = now - timedelta(seconds=settings.TIDINGS_STUCK_AFTER_SECONDS)
    # Due once, then again only after TIDINGS_STUCK_AFTER_SECONDS: a release sets
    # updated_at = next_attempt_at = now.
    not_just_released = ~Q(updated_at=F("next_attempt_at")) | Q(updated_at__lt=stale)
    lost = _entered_before(now - timedelta(seconds=settings.TIDINGS_LOST_TASK_MAX_SECONDS))
    why = {}
    for queue, (channel, priority) in lanes.items():
        in_lane = Q(channel=channel, priority=priority)
        mark, started = marks.get(queue, (0.0, 0.0))
        if started < stale.timestamp():  # nothing started for a while: nothing is queued
            lost |= in_lane & not_just_released
            why[queue] = "its lane started no task for a while"
        else:
            mark_at = datetime.fromtimestamp(mark, tz=UTC)
            lost |= in_lane & _entered_before(mark_at - slack)
            why[queue] = (
                f"its lane has started tasks queued after it (up to {mark_at:%H:%M:%S}),"
                f" or it waited {settings.TIDINGS_LOST_TASK_MAX_SECONDS}s"
            )
    return lost, why


def _reason(row: tuple, why: dict[str, str], in_doubt: set[int]) -> str:
    pk, channel, priority, state, next_attempt_at = row
    if state == MessageState.SENDING:
        reason = "its worker's lease ran out"
        if pk in in_doubt:
            reason += (
                "; the previous attempt may have reached the provider, resent with the"
                " same message_id"
            )
        return reason
    if state == MessageState.ACCEPTED:
        return "the broker did not take its task"
    since = "not picked up"
    if next_attempt_at is not None:
        since = f"due since {next_attempt_at.isoformat(timespec='seconds')}, not picked up"
    return f"{since}: {why.get(lane(channel, priority), 'waited too long')}"


def messages_requeue_stuck(now: datetime | None = None, limit: int = 100_000) -> int:
    """Re-publish the messages whose task is lost (see the module's docstring); returns how
    many. The rows are locked (skipping any a worker holds) and updated in one transaction:
    a re-published message counts as published now, and the trace gets a "re-enqueued"
    event only for rows this sweep really changed."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.TIDINGS_RELEASE_GRACE_SECONDS)
    stale = now - timedelta(seconds=settings.TIDINGS_STUCK_AFTER_SECONDS)
    refused = Q(state=MessageState.ACCEPTED, next_attempt_at__isnull=True, updated_at__lt=grace)
    abandoned = Q(state=MessageState.SENDING, lease_expires_at__lt=now)
    # Deferred (quiet hours, throttling, held by a breaker) or retrying messages whose time
    # has come (long deferrals have no countdown task at all), and queued ones left alone.
    waiting = Q(state=MessageState.QUEUED, next_attempt_at__isnull=True, updated_at__lt=stale) | Q(
        state__in=[MessageState.QUEUED, MessageState.RETRYING], next_attempt_at__lt=grace
    )
    lost, why = _lost(waiting, now)
    lanes: dict[tuple[str, str], list[int]] = defaultdict(list)
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(refused | abandoned | (waiting & lost))
            .order_by("id")
            .values_list("id", "channel", "priority", "state", "next_attempt_at")[:limit]
        )
        if not rows:
            return 0
        events: list[EventRow] = []
        dead = [pk for pk, _, _, state, _ in rows if state == MessageState.SENDING]
        published = [pk for pk, _, _, state, _ in rows if state != MessageState.SENDING]
        # Those a dead worker had dispatched: in doubt, their attempt counted.
        in_doubt = reclaimed_attempts_count(dead)
        for row in rows:
            pk, channel, priority = row[:3]
            lanes[(channel, priority)].append(pk)
            events.append(
                EventRow(
                    pk, MessageState.QUEUED, now, f"re-enqueued: {_reason(row, why, in_doubt)}"
                )
            )
        # A dead worker's messages leave SENDING: due now, no owner. Their claim events are
        # this sweep's (the claim writes none for a due message).
        Message.objects.filter(id__in=dead).update(
            state=MessageState.QUEUED,
            next_attempt_at=now,
            lease_expires_at=None,
            claim_token=None,
            updated_at=now,
        )
        # Published now: the next sweep judges them from this publish on.
        Message.objects.filter(id__in=published, next_attempt_at__isnull=True).update(
            updated_at=now
        )
        Message.objects.filter(id__in=published, next_attempt_at__isnull=False).update(
            updated_at=now, next_attempt_at=now
        )
        events_record(events)
        transaction.on_commit(lambda: _publish_lanes(lanes))
    logger.warning("re-enqueued %d messages whose task was lost", len(rows))
    return len(rows)


def _publish_lanes(lanes: dict[tuple[str, str], list[int]]) -> None:
    for (channel, priority), ids in lanes.items():
        try:
            enqueue_delivery(ids, channel, priority)
        except Exception:
            logger.exception("broker unavailable: %d messages wait for the next sweep", len(ids))
            # Known unpublished: ACCEPTED, so the next sweep takes them without waiting.
            Message.objects.filter(
                id__in=ids, state=MessageState.QUEUED, next_attempt_at__isnull=True
            ).update(state=MessageState.ACCEPTED)
