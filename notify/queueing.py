"""Queue lanes ("<channel>.<priority>") and batch publishing."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings

from channels_app.channels import Channel
from notify.lane_progress import lane_stamp

logger = logging.getLogger(__name__)


def lane(channel: str, priority: str) -> str:
    return f"{channel}.{priority}"


def all_lanes() -> list[str]:
    return [
        lane(channel, priority)
        for channel in Channel.values
        for priority in settings.TIDINGS_PRIORITIES
    ]


def enqueue_delivery(
    message_ids: Sequence[int], channel: str, priority: str, *, countdown: float | None = None
) -> int:
    """Publish one task per batch of ids on the message's lane; returns the task count.

    Raises on a broker failure: callers decide whether that is fatal (the database keeps
    the messages either way, and the sweeper re-enqueues them).
    """
    from config.celery_app import app
    from notify.tasks import deliver_batch

    size = settings.TIDINGS_BATCH_SIZE
    queue = lane(channel, priority)
    tasks = 0
    with app.producer_or_acquire() as producer:
        for start in range(0, len(message_ids), size):
            deliver_batch.apply_async(
                args=[list(message_ids[start : start + size])],
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
    from config.celery_app import app

    try:
        with app.connection_for_write() as connection:
            return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
    except Exception:  # noqa: BLE001 - a missing queue or a broker without counts
        logger.debug("cannot read the backlog of %s", queue, exc_info=True)
        return None
