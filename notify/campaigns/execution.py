"""Running a campaign: stream the audience in batches through the send pipeline.

Each batch is one transaction: the pipeline's rows, the CampaignBatch and the run's
checkpoint commit together, so a worker killed mid-batch leaves either all of it or none.
The batch's idempotency key ("campaign:<id>:run:<n>:batch:<k>") makes a batch re-sent after
a crash a no-op on top. Between batches the campaign's status is read again, which is how
pause and cancel take effect within a batch's time.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from typing import IO

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from notify.campaigns.crowd import MAX_PROBLEMS, CrowdFileError, CrowdReader, Row
from notify.campaigns.runs import periodic_task_remove, run_create, run_enqueue
from notify.errors import ApiError
from notify.models import (
    AudienceKind,
    Campaign,
    CampaignBatch,
    CampaignRun,
    CampaignSegment,
    CampaignStatus,
    RunStatus,
    ScheduleKind,
    SendRequest,
    TopicSubscription,
    UserGroupMember,
)
from notify.pipeline import Item, SendContext, message_send
from templates_app.rendering import placeholders

logger = logging.getLogger(__name__)
S = CampaignStatus


@dataclass
class Batch:
    rows: list[Row]
    position: int  # where the row after this batch starts
    line: int


def campaign_fire(campaign_id: int) -> int | None:
    """A beat firing (at-time or cron): start a run unless one is still going."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != S.SCHEDULED:
            logger.info("campaign %s not fired: %s", campaign_id, campaign and campaign.status)
            return None
        run = run_create(campaign)
    return run.pk if run is not None else None


def campaign_run_execute(run_id: int) -> str:
    """Claim the run (a lease renewed every batch) and fan it out from its checkpoint."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TIDINGS_CAMPAIGN_STALL_SECONDS)
    token = uuid.uuid4()
    claimed = (
        CampaignRun.objects.filter(pk=run_id, status=RunStatus.RUNNING)
        .filter(Q(owner__isnull=True) | Q(heartbeat_at__lt=stale))
        .update(owner=token, heartbeat_at=now)
    )
    if not claimed:
        return "not claimed"  # finished, paused, or another worker holds a live lease
    run = CampaignRun.objects.select_related("campaign__app", "campaign__template").get(pk=run_id)
    campaign = run.campaign
    try:
        outcome = _fan_out(campaign, run, token)
    except CrowdFileError as exc:
        outcome = _finish(campaign, run, token, failed=f"audience file: {exc}")
    except Exception as exc:
        logger.exception("campaign %s run %s failed", campaign.pk, run.number)
        _finish(campaign, run, token, failed=f"{type(exc).__name__}: {exc}")
        raise
    return outcome


def _fan_out(campaign: Campaign, run: CampaignRun, token: uuid.UUID) -> str:
    size = settings.TIDINGS_CAMPAIGN_BATCH_SIZE
    delay = settings.TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS
    for batch in _batches(campaign, run, size):
        status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        if status != S.RUNNING:
            _release(run, token)
            return f"stopped: {status}"
        if not _batch_commit(campaign, run, token, batch):
            return "lease lost"
        if delay:
            time.sleep(delay)
    return _finish(campaign, run, token)


def _batch_commit(campaign: Campaign, run: CampaignRun, token: uuid.UUID, batch: Batch) -> bool:
    number = run.batches_done + 1
    with transaction.atomic():
        # The lock fences a second executor: only the lease owner commits batches.
        owned = (
            CampaignRun.objects.select_for_update()
            .filter(pk=run.pk, owner=token, status=RunStatus.RUNNING, batches_done=run.batches_done)
            .exists()
        )
        if not owned:
            return False
        problems, items = _batch_items(campaign, batch)
        key = f"campaign:{campaign.pk}:run:{run.number}:batch:{number}"
        accepted, request, rejected = _batch_send(campaign, items, key)
        problems.extend(rejected)
        run.batches_done = number
        run.rows_done += len(batch.rows)
        run.position, run.line_number = batch.position, batch.line
        run.accepted += accepted
        run.rejected += len(problems)
        room = MAX_PROBLEMS - len(run.problems)
        if room > 0 and problems:
            run.problems = run.problems + problems[:room]
        run.heartbeat_at = timezone.now()
        CampaignBatch.objects.create(
            run=run, number=number, request=request, accepted=accepted, rejected=len(problems)
        )
        run.save(
            update_fields=[
                "batches_done", "rows_done", "position", "line_number", "accepted", "rejected",
                "problems", "heartbeat_at",
            ]
        )  # fmt: skip
    return True


def _batch_items(campaign: Campaign, batch: Batch) -> tuple[list[dict], list[Item]]:
    """The batch's rows the reader refused (as problems) and the others as send items."""
    problems = [
        {"line": row.line, "receiver": row.receiver, "problem": row.problem}
        for row in batch.rows
        if row.problem
    ]
    shared = campaign.variables
    items = [
        Item(row.receiver, {**shared, **row.variables} if shared else row.variables,
             row.biz_id, row.line, row.locale)
        for row in batch.rows
        if not row.problem
    ]  # fmt: skip
    return problems, items


def _batch_send(
    campaign: Campaign, items: list[Item], key: str
) -> tuple[int, SendRequest | None, list[dict]]:
    """One batch through the pipeline, in the caller's transaction: (accepted, its send
    request, the rows the pipeline rejected)."""
    if not items:
        return 0, None, []
    accepted, request = 0, None
    ctx = SendContext(
        app=campaign.app,
        template_ref=campaign.template_id,
        items=list(items),
        priority=campaign.priority,
        idempotency_key=key,
        respond=False,
        pre_approved=True,
    )
    try:
        answer = message_send(ctx)
        # A replay (unreachable while the checkpoint commits with the batch) counted
        # its rows when it first ran.
        if not answer.replayed:
            accepted, request = answer.body["accepted"], ctx.request
    except ApiError:
        pass  # every row was rejected: ctx.rejected says why
    return accepted, request, _rejected_rows(items, ctx)


def _rejected_rows(items: list[Item], ctx: SendContext) -> list[dict]:
    """Map the pipeline's rejections (receiver, reason) back to file lines."""
    if not ctx.rejected:
        return []
    kept = {item.index for item in ctx.items} if ctx.request is not None else set()
    reasons: dict[str, list[str]] = {}
    for entry in ctx.rejected:
        reasons.setdefault(entry["receiver"], []).append(entry["reason"])
    rows = []
    for item in items:
        if item.index in kept:
            continue
        queue = reasons.get(item.receiver)
        reason = queue.pop(0) if queue else "rejected"
        rows.append({"line": item.index, "receiver": item.receiver, "problem": reason})
    return rows


def _finish(
    campaign: Campaign, run: CampaignRun, token: uuid.UUID, failed: str | None = None
) -> str:
    now = timezone.now()
    with transaction.atomic():
        done = CampaignRun.objects.filter(pk=run.pk, owner=token).update(
            status=RunStatus.FAILED if failed else RunStatus.COMPLETED,
            error=failed or "",
            finished_at=now,
            owner=None,
        )
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not done or campaign.status != S.RUNNING:
            return "stopped"
        if failed:
            campaign.status, campaign.last_error = S.FAILED, failed
            periodic_task_remove(campaign)
        elif campaign.schedule_kind == ScheduleKind.CRON:
            campaign.status = S.SCHEDULED  # waits for the next firing
        else:
            campaign.status = S.COMPLETED
            periodic_task_remove(campaign)
        campaign.save(update_fields=["status", "last_error", "updated_at"])
    return "failed" if failed else "completed"


def _release(run: CampaignRun, token: uuid.UUID) -> None:
    CampaignRun.objects.filter(pk=run.pk, owner=token).update(owner=None, heartbeat_at=None)


def campaign_runs_resume_stalled() -> int:
    """Re-enqueue runs whose executor stopped renewing its lease (a killed worker), or with
    a segment whose executor did (its run's heartbeat is renewed by the other segments);
    the checkpoint makes the new executor start after the last committed batch."""
    stale = timezone.now() - timedelta(seconds=settings.TIDINGS_CAMPAIGN_STALL_SECONDS)
    dead_segment = CampaignSegment.objects.filter(
        run=OuterRef("pk"), done=False, owner__isnull=False, heartbeat_at__lt=stale
    )
    runs = list(
        CampaignRun.objects.filter(status=RunStatus.RUNNING, campaign__status=S.RUNNING)
        .filter(
            Q(heartbeat_at__lt=stale)
            | Q(heartbeat_at__isnull=True, started_at__lt=stale)
            | Exists(dead_segment)
        )
        .values_list("pk", flat=True)
    )
    for pk in runs:
        run_enqueue(pk)
    if runs:
        logger.warning("resuming %d stalled campaign runs", len(runs))
    return len(runs)


# --- audience sources -----------------------------------------------------------------------


def _batches(campaign: Campaign, run: CampaignRun, size: int) -> Iterator[Batch]:
    kind = campaign.audience_kind
    if kind == AudienceKind.FILE:
        yield from _file_batches(campaign, run, size)
    elif kind in (AudienceKind.GROUP, AudienceKind.TOPIC):
        yield from _member_batches(campaign, run, size)
    else:
        items = campaign.audience_list
        for start in range(run.position, len(items), size):
            chunk = items[start : start + size]
            rows = [
                Row(start + i + 1, e["receiver"], e.get("variables") or {}, "",
                    None if e["receiver"] else "empty receiver")
                for i, e in enumerate(chunk)
            ]  # fmt: skip
            yield Batch(rows, start + len(chunk), 0)


def _file_batches(campaign: Campaign, run: CampaignRun, size: int) -> Iterator[Batch]:
    audience = campaign.audience_file
    if audience is None:
        raise CrowdFileError(0, "the campaign has no audience file")
    required = [v for v in placeholders(campaign.template.content) if v not in campaign.variables]
    with _open(audience.file) as handle:
        reader = CrowdReader(handle, required)
        if run.position:
            reader = CrowdReader(
                handle, required, offset=run.position, line=run.line_number, header=reader.header
            )
        rows = iter(reader)
        while chunk := list(islice(rows, size)):
            yield Batch(chunk, reader.offset, reader.line)


def _open(field_file: FieldFile) -> IO[bytes]:
    """The stored file in binary mode; a local path is opened directly (plain buffered IO)."""
    try:
        return open(field_file.path, "rb")  # noqa: SIM115 - used as a context manager
    except NotImplementedError:  # remote storage
        return field_file.storage.open(str(field_file.name), "rb")


def _members(campaign: Campaign) -> QuerySet:
    """(id, user id) of a group's members or a topic's subscribers, in id order."""
    if campaign.audience_kind == AudienceKind.TOPIC:
        return TopicSubscription.objects.filter(
            topic_id=campaign.audience_topic_id or 0
        ).values_list("id", "profile__external_id")
    return UserGroupMember.objects.filter(group_id=campaign.audience_group_id).values_list(
        "id", "user_id"
    )


def _member_batches(campaign: Campaign, run: CampaignRun, size: int) -> Iterator[Batch]:
    last_id, line = run.position, run.rows_done
    while True:
        # Never more than the run's counted (approved) audience, whatever joined since.
        room = min(size, run.total - line)
        if room <= 0:
            return
        members = list(_members(campaign).filter(id__gt=last_id).order_by("id")[:room])
        if not members:
            return
        rows = []
        for _pk, user_id in members:
            line += 1
            rows.append(Row(line, f"user:{user_id}", {}, ""))
        last_id = members[-1][0]
        yield Batch(rows, last_id, line)
