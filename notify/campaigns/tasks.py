"""Thin campaign tasks: ids in, a service call out. Runs go to TIDINGS_CAMPAIGN_QUEUE
(runs.run_enqueue publishes by name; beat entries name it too)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notify import holds
from notify.campaigns import execution, segments
from notify.campaigns.runs import FIRE_TASK, RUN_TASK

_DB_TROUBLE = (OperationalError, InterfaceError)


@shared_task(name=FIRE_TASK, autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=5)
def campaign_fire(campaign_id: int) -> int | None:
    return execution.campaign_fire(campaign_id)


@shared_task(
    name=RUN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=_DB_TROUBLE,
    retry_backoff=True,
    max_retries=10,
)
def campaign_run_execute(run_id: int) -> str:
    return segments.run_execute(run_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=_DB_TROUBLE,
    retry_backoff=True,
    max_retries=10,
)
def campaign_segment_execute(segment_id: int) -> str:
    return segments.segment_execute(segment_id)


@shared_task(autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=3)
def campaign_runs_resume_stalled() -> int:
    return execution.campaign_runs_resume_stalled()


@shared_task(autoretry_for=_DB_TROUBLE, retry_backoff=True, max_retries=3)
def held_sends_release() -> int:
    return holds.held_sends_release()
