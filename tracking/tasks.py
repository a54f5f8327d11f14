"""Thin tasks on the housekeeping queue; beat runs them (see notify/periodic.py)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from tracking.callbacks import callbacks_drain
from tracking.receipts.pull import receipts_pull
from tracking.retention import messages_purge
from tracking.services import stats_compact

_DB_TROUBLE = (OperationalError, InterfaceError)


@shared_task(autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=3)
def drain_status_callbacks() -> dict:
    return callbacks_drain()


@shared_task(autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=3)
def pull_receipts() -> dict:
    return receipts_pull()


@shared_task(autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=3)
def purge_old_messages() -> int:
    return messages_purge()


@shared_task(autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=3)
def compact_stats() -> int:
    return stats_compact()
