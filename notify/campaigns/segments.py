"""Parallel fan-out of a large crowd file: a run cut into segments.

The upload scan notes where every TIDINGS_CAMPAIGN_SEGMENT_ROWS rows a segment starts
(CampaignAudienceFile.segments). A run of such a file is not fanned out by one task: its
task creates one CampaignSegment per byte range and enqueues one task per segment, and the
campaign workers fan the segments out in parallel. Each segment has its own lease and its
own checkpoint, committed with each batch exactly like a run's (execution.py), and adds the
batch's counts to the run in the same transaction; its batches' idempotency keys name the
segment. A killed worker's segment is taken over from its checkpoint once its lease is
stale (beat resumes the run, whose heartbeat the segments renew), so no row is sent twice.
The last segment to finish finishes the run.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from itertools import islice

from celery import signature
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notify.campaigns import execution
from notify.campaigns.crowd import MAX_PROBLEMS, CrowdFileError, CrowdReader, Row
from notify.campaigns.execution import Batch, _batch_items, _batch_send, _finish, _open
from notify.models import (
    AudienceKind,
    Campaign,
    CampaignBatch,
    CampaignRun,
    CampaignSegment,
    CampaignStatus,
    RunStatus,
)
from templates_app.rendering import placeholders

logger = logging.getLogger(__name__)
# Batch numbers of segment s are s * SEGMENT_BATCHES + 1, 2, ... (unique per run).
SEGMENT_BATCHES = 1_000_000
SEGMENT_TASK = "notify.campaigns.tasks.campaign_segment_execute"


def run_execute(run_id: int) -> str:
    """A run's task: fan out its segments in parallel, or the whole run in this task when
    the file has none (or the run started before it was cut, at a checkpoint of its own)."""
    run = CampaignRun.objects.select_related("campaign__audience_file").get(pk=run_id)
    audience = run.campaign.audience_file
    file_audience = audience is not None and run.campaign.audience_kind == AudienceKind.FILE
    bounds = audience.segments if file_audience and audience is not None else []
    if not bounds or (run.batches_done and not run.segments.exists()):
        return execution.campaign_run_execute(run_id)
    if run.status != RunStatus.RUNNING:
        return "not running"
    starts = [(0, 0), *[tuple(b) for b in bounds]]
    CampaignSegment.objects.bulk_create(
        [
            CampaignSegment(
                run=run,
                number=number,
                position=offset,
                line_number=line,
                end_position=starts[number + 1][0] if number + 1 < len(starts) else None,
            )
            for number, (offset, line) in enumerate(starts)
        ],
        ignore_conflicts=True,
    )
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TIDINGS_CAMPAIGN_STALL_SECONDS)
    # The segments renew the run's heartbeat; beat re-enqueues this task when it goes stale.
    CampaignRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
    waiting = list(
        run.segments.filter(done=False)
        .filter(Q(owner__isnull=True) | Q(heartbeat_at__lt=stale))
        .values_list("pk", flat=True)
    )
    for pk in waiting:
        signature(SEGMENT_TASK, args=[pk]).apply_async(queue=settings.TIDINGS_CAMPAIGN_QUEUE)
    if not run.segments.filter(done=False).exists():
        return _run_finish(run, uuid.uuid4())
    return f"{len(waiting)} segments enqueued"


def segment_execute(segment_id: int) -> str:
    """Claim the segment (a lease renewed every batch) and fan it out from its checkpoint."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TIDINGS_CAMPAIGN_STALL_SECONDS)
    token = uuid.uuid4()
    claimed = (
        CampaignSegment.objects.filter(pk=segment_id, done=False, run__status=RunStatus.RUNNING)
        .filter(Q(owner__isnull=True) | Q(heartbeat_at__lt=stale))
        .update(owner=token, heartbeat_at=now)
    )
    if not claimed:
        return "not claimed"  # done, stopped, or another worker holds a live lease
    segment = CampaignSegment.objects.select_related(
        "run__campaign__app", "run__campaign__template", "run__campaign__audience_file"
    ).get(pk=segment_id)
    run, campaign = segment.run, segment.run.campaign
    try:
        for batch in _segment_batches(campaign, segment, settings.TIDINGS_CAMPAIGN_BATCH_SIZE):
            status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True)[0]
            if status != CampaignStatus.RUNNING:
                CampaignSegment.objects.filter(pk=segment.pk, owner=token).update(owner=None)
                return f"stopped: {status}"
            if not _segment_commit(campaign, run, segment, token, batch):
                return "lease lost"
            if settings.TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS:
                time.sleep(settings.TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS)
    except CrowdFileError as exc:
        return _run_finish(run, token, failed=f"audience file: {exc}")
    except Exception as exc:
        logger.exception("campaign %s run %s segment %s failed", campaign.pk, run.number,
                         segment.number)  # fmt: skip
        _run_finish(run, token, failed=f"{type(exc).__name__}: {exc}")
        raise
    return _segment_done(run, segment, token)


def _segment_commit(
    campaign: Campaign, run: CampaignRun, segment: CampaignSegment, token: uuid.UUID, batch: Batch
) -> bool:
    number = segment.batches_done + 1
    with transaction.atomic():
        # The lock fences a second executor: only the lease owner commits batches.
        owned = (
            CampaignSegment.objects.select_for_update()
            .filter(pk=segment.pk, owner=token, done=False, batches_done=segment.batches_done)
            .exists()
        )
        if not owned:
            return False
        problems, items = _batch_items(campaign, batch)
        key = f"campaign:{campaign.pk}:run:{run.number}:segment:{segment.number}:batch:{number}"
        accepted, request, rejected = _batch_send(campaign, items, key)
        problems.extend(rejected)
        now = timezone.now()
        # The run's counts (progress) move with the checkpoint; its row is locked last and
        # briefly, after the pipeline's work, so parallel segments barely wait on it.
        kept = (
            CampaignRun.objects.select_for_update()
            .values_list("problems", flat=True)
            .get(pk=run.pk)
        )
        room = MAX_PROBLEMS - len(kept)
        counts = {
            "batches_done": F("batches_done") + 1,
            "rows_done": F("rows_done") + len(batch.rows),
            "accepted": F("accepted") + accepted,
            "rejected": F("rejected") + len(problems),
            "heartbeat_at": now,
        }
        if room > 0 and problems:
            counts["problems"] = kept + problems[:room]
        CampaignRun.objects.filter(pk=run.pk).update(**counts)
        CampaignBatch.objects.create(
            run=run,
            number=segment.number * SEGMENT_BATCHES + number,
            request=request,
            accepted=accepted,
            rejected=len(problems),
        )
        segment.batches_done = number
        segment.position, segment.line_number = batch.position, batch.line
        segment.heartbeat_at = now
        segment.save(update_fields=["batches_done", "position", "line_number", "heartbeat_at"])
    return True


def _segment_done(run: CampaignRun, segment: CampaignSegment, token: uuid.UUID) -> str:
    with transaction.atomic():
        if not CampaignSegment.objects.filter(pk=segment.pk, owner=token).update(done=True):
            return "lease lost"
        # One finisher at a time: the run's lock orders the last two segments.
        CampaignRun.objects.select_for_update().filter(pk=run.pk).exists()
        if CampaignSegment.objects.filter(run=run, done=False).exists():
            return "segment done"
        return _run_finish(run, token)


def _run_finish(run: CampaignRun, token: uuid.UUID, failed: str | None = None) -> str:
    """execution._finish, which acts for the run's lease owner: the finishing segment."""
    with transaction.atomic():
        CampaignRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(owner=token)
        return _finish(run.campaign, run, token, failed=failed)


def _segment_batches(campaign: Campaign, segment: CampaignSegment, size: int) -> Iterator[Batch]:
    """The segment's rows from its checkpoint up to where the next segment starts."""
    audience = campaign.audience_file
    if audience is None:
        raise CrowdFileError(0, "the campaign has no audience file")
    required = [v for v in placeholders(campaign.template.content) if v not in campaign.variables]
    end = segment.end_position
    with _open(audience.file) as handle:
        reader = CrowdReader(handle, required)  # reads the header
        if segment.position:
            reader = CrowdReader(handle, required, offset=segment.position,
                                 line=segment.line_number, header=reader.header)  # fmt: skip
        rows = iter(reader)

        def bounded() -> Iterator[Row]:
            while end is None or reader.offset < end:
                row = next(rows, None)
                if row is None:
                    return
                yield row

        within = bounded()
        while chunk := list(islice(within, size)):
            yield Batch(chunk, reader.offset, reader.line)
