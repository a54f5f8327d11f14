"""Thin tasks: ids in, a service call out."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notify.delivery import batch_deliver
from notify.queueing import DELIVER_BATCH_TASK
from notify.sweeper import messages_requeue_stuck

_DB_TROUBLE = (OperationalError, InterfaceError)


@shared_task(
    name=DELIVER_BATCH_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=_DB_TROUBLE,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=10,
)
def deliver_batch(message_ids: list[int]) -> None:
    batch_deliver(message_ids)


@shared_task(autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=3)
def requeue_stuck_messages() -> int:
    return messages_requeue_stuck()
