"""How far each lane's queue has been consumed: the sweeper's way to tell a lost task from a
late one.

Every delivery task carries the time it entered its lane's queue (`tidings_entered`: when it
was published, or when it falls due where the broker holds countdowns itself, as RabbitMQ's
quorum queues do). When a worker starts a task, the lane's mark becomes the latest such time
(best-effort, in Redis), and the time it started one is kept too. Lanes are FIFO: once the
lane has started a task that entered after a message's own task could have, that task was
taken off the queue, and a message due by then but still waiting lost it (e.g. with a
SIGKILLed worker holding it unacknowledged). A message merely queued behind a backlog is
late, not lost, and is left alone. A lane that started nothing for a while is idle: a due
message still waiting there has no task either.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from celery.signals import task_prerun
from django.conf import settings

from config.redis import get_redis

logger = logging.getLogger(__name__)

KEY = "tidings:lane-progress"
ENTERED = "tidings_entered"
LANE = "tidings_lane"
TASK = "notify.tasks.deliver_batch"
# Raise a lane's mark, never lower it (tasks of one lane start on many processes); note
# when it last started a task.
_RAISE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('HSET', KEYS[1], ARGV[1] .. '@', ARGV[3])
return 1
"""


def lane_stamp(queue: str, countdown: float | None) -> dict[str, str | float]:
    """Headers of a delivery task published now on `queue`."""
    entered = time.time()
    if countdown and getattr(settings, "CELERY_TASK_DEFAULT_QUEUE_TYPE", "") == "quorum":
        entered += math.ceil(countdown)  # the broker holds it and queues it when due
    return {LANE: queue, ENTERED: round(entered, 3)}


def lane_progress_record(queue: str, entered: float, started: float | None = None) -> None:
    started = time.time() if started is None else started
    get_redis().eval(_RAISE, 1, KEY, queue, repr(float(entered)), repr(float(started)))


def lane_progress(queues: list[str]) -> dict[str, tuple[float, float]]:
    """Per lane: (the latest queue-entry time of a task it started, when it last started
    one), in seconds since the epoch; lanes without a mark are left out. Raises on a Redis
    error: the caller decides what no answer means."""
    if not queues:
        return {}
    values = get_redis().hmget(KEY, [name for q in queues for name in (q, q + "@")])
    return {
        queue: (float(mark), float(at))
        for queue, mark, at in zip(queues, values[::2], values[1::2], strict=True)
        if mark and at
    }


def publish_slack() -> float:
    """How long after its row was written a message's task may enter its lane: a batch
    publishes its retries before its next provider call once they are a retry bucket old,
    plus clock skew between hosts."""
    return settings.TIDINGS_RETRY_BUCKET_SECONDS + settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS + 5.0


@task_prerun.connect
def _task_started(sender: Any = None, task: Any = None, **kwargs: Any) -> None:
    if getattr(sender, "name", None) != TASK or task is None:
        return
    queue, entered = getattr(task.request, LANE, None), getattr(task.request, ENTERED, None)
    if not queue or entered is None:
        return  # published before lanes were stamped
    try:
        lane_progress_record(queue, float(entered))
    except Exception:  # noqa: BLE001 - advice for the sweeper, never a reason to fail a send
        logger.warning("lane progress of %s not recorded", queue, exc_info=True)
