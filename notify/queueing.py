"""Queue lanes ("<channel>.<priority>") and batch publishing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from config.celery_app import app
from notify.lane_progress import lane_stamp
from tracking.models import Message, MessageState, lane_name

logger = logging.getLogger(__name__)

# Published by name: notify/tasks.py (which imports delivery, which imports this module)
# registers it, so the publisher needs no import of the task.
DELIVER_BATCH_TASK = "notify.tasks.deliver_batch"


def lane(channel: str, priority: str) -> str:
    return lane_name(channel, priority)


def enqueue_delivery(
    message_ids: Sequence[int], channel: str, priority: str, *, countdown: float | None = None
) -> int:
    """Publish one task per batch of ids on the message's lane; returns the task count.

    Raises on a broker failure: callers decide whether that is fatal (the database keeps
    the messages either way, and the sweeper re-enqueues them).
    """
    size = settings.TIDINGS_BATCH_SIZE
    queue = lane(channel, priority)
    tasks = 0
    with app.producer_or_acquire() as producer:
        for start in range(0, len(message_ids), size):
            batch = list(message_ids[start : start + size])
            app.send_task(
                DELIVER_BATCH_TASK,
                args=[batch],
                # What logs and monitors show of the args: Celery's own repr of 500 ids
                # took a fifth of the publishing CPU of a send.
                argsrepr=f"[<{len(batch)} message ids>]",
                queue=queue,
                countdown=countdown,
                producer=producer,
                # When it entered the lane: how the sweeper tells a lost task from a late one.
                headers=lane_stamp(queue, countdown),
            )
            tasks += 1
    return tasks


def lane_backlog(queue: str) -> int | None:
    """Tasks waiting in a lane's broker queue, or None when the broker cannot tell."""
    try:
        with app.connection_for_write() as connection:
            channel: Any = (
                connection.default_channel
            )  # Any: kombu's stubs say StdChannel, which lacks queue_declare
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
    except Exception:  # noqa: BLE001 - a missing queue or a broker without counts
        logger.debug("cannot read the backlog of %s", queue, exc_info=True)
        return None


def enqueue_accepted(request_pk: int, message_ids: list[int], channel: str, priority: str) -> None:
    """Publish the batches. Rows are written QUEUED (saving an UPDATE of every row after
    publishing); if the broker refuses, they go back to ACCEPTED for the sweeper. A crash
    between commit and publish leaves them QUEUED, which the sweeper also re-publishes."""
    try:
        enqueue_delivery(message_ids, channel, priority)
    except Exception:
        logger.exception(
            "broker unavailable: %d messages stay ACCEPTED until re-enqueued", len(message_ids)
        )
        Message.objects.filter(
            request_id=request_pk, state=MessageState.QUEUED, next_attempt_at__isnull=True
        ).update(state=MessageState.ACCEPTED, updated_at=timezone.now())
