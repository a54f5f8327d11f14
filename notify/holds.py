"""API sends held as SCHEDULED: a `send_at` in the future, or more receivers than
TIDINGS_APPROVAL_THRESHOLD (four-eyes). A beat task releases the due, approved ones to the
lanes; until then the caller can cancel them."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notify.actors import Actor
from notify.errors import ApiError
from notify.models import App, ApprovalRecord, HeldSend, SendRequest
from notify.queueing import enqueue_accepted
from tracking.models import Message, MessageState
from tracking.services import EventRow, events_record

logger = logging.getLogger(__name__)


def approval_needed(receivers: int) -> bool:
    threshold = settings.TIDINGS_APPROVAL_THRESHOLD
    return bool(threshold) and receivers > threshold


def send_hold_create(
    request: SendRequest, receivers: int, release_at: datetime | None, needs_approval: bool
) -> HeldSend:
    """Called by the pipeline's persist step, inside its transaction."""
    return HeldSend.objects.create(
        request=request,
        release_at=release_at,
        receivers=receivers,
        approval=HeldSend.Approval.PENDING if needs_approval else HeldSend.Approval.NOT_REQUIRED,
    )


def hold_answer(request: SendRequest) -> dict:
    """What a send answer adds for a held request ({} when it was not held)."""
    hold = HeldSend.objects.filter(request=request).first()
    if hold is None:
        return {}
    answer: dict = {"state": MessageState.SCHEDULED}
    if hold.release_at:
        answer["send_at"] = hold.release_at.isoformat()
    if hold.approval != HeldSend.Approval.NOT_REQUIRED:
        answer["approval"] = hold.approval
    return answer


def held_sends_release(now: datetime | None = None, limit: int = 200) -> int:
    """Release due, approved held sends to the lanes; returns the messages released."""
    now = now or timezone.now()
    released = 0
    ready = Q(approval__in=[HeldSend.Approval.NOT_REQUIRED, HeldSend.Approval.APPROVED]) & (
        Q(release_at__isnull=True) | Q(release_at__lte=now)
    )
    with transaction.atomic():
        holds = list(
            HeldSend.objects.select_for_update(skip_locked=True)
            .filter(ready, status=HeldSend.Status.WAITING)
            .select_related("request__template")
            .order_by("release_at", "id")[:limit]
        )
        for hold in holds:
            request = hold.request
            ids = list(
                Message.objects.filter(request=request, state=MessageState.SCHEDULED).values_list(
                    "id", flat=True
                )
            )
            # Written QUEUED before publishing, like the pipeline's persist step;
            # enqueue_accepted puts them back to ACCEPTED if the broker refuses.
            Message.objects.filter(id__in=ids, state=MessageState.SCHEDULED).update(
                state=MessageState.QUEUED, queued_at=now, updated_at=now
            )
            detail = "released: approved" if hold.approval == "approved" else "released: send_at"
            events_record(EventRow(pk, MessageState.ACCEPTED, now, detail) for pk in ids)
            HeldSend.objects.filter(pk=hold.pk).update(
                status=HeldSend.Status.RELEASED, released_at=now
            )
            channel, priority = request.template.channel, request.priority
            transaction.on_commit(partial(enqueue_accepted, request.pk, ids, channel, priority))
            released += len(ids)
    if released:
        logger.info("released %d scheduled messages", released)
    return released


def held_send_cancel(app: App, request_id: Any) -> int:
    """Cancel a held send of this App until it is released; returns the messages cancelled."""
    request = SendRequest.objects.filter(app=app, request_id=request_id).first()
    if request is None:
        raise ApiError("no such request", code="not_found", status_code=404)
    with transaction.atomic():
        hold = HeldSend.objects.select_for_update().filter(request=request).first()
        if hold is None or hold.status == HeldSend.Status.RELEASED:
            raise ApiError(
                "the request has already started: only scheduled sends can be cancelled",
                code="invalid_status",
                status_code=409,
            )
        if hold.status != HeldSend.Status.WAITING:
            raise ApiError(
                f"the request is already {hold.status}", code="invalid_status", status_code=409
            )
        HeldSend.objects.filter(pk=hold.pk).update(status=HeldSend.Status.CANCELLED)
        return _messages_close(request, MessageState.CANCELLED, "cancelled by the caller")


def held_send_decide(hold_id: int, actor: Actor, approve: bool, note: str = "") -> HeldSend:
    """Four-eyes on an API send: a staff user (never the submitting App) approves or rejects."""
    actor.require_staff()
    with transaction.atomic():
        hold = HeldSend.objects.select_for_update().select_related("request").get(pk=hold_id)
        if hold.approval != HeldSend.Approval.PENDING or hold.status != HeldSend.Status.WAITING:
            raise ApiError(
                f"the send is not waiting for approval (approval {hold.approval}, {hold.status})",
                code="invalid_status",
                status_code=409,
            )
        if approve:
            hold.approval = HeldSend.Approval.APPROVED
            hold.save(update_fields=["approval"])
        else:
            hold.approval = HeldSend.Approval.REJECTED
            hold.status = HeldSend.Status.REJECTED
            hold.save(update_fields=["approval", "status"])
            _messages_close(hold.request, MessageState.CANCELLED, f"rejected by {actor.label}")
        ApprovalRecord.objects.create(
            held_send=hold,
            action=ApprovalRecord.Action.APPROVED if approve else ApprovalRecord.Action.REJECTED,
            user=actor.user,
            actor=actor.label,
            note=note,
        )
    if approve:
        held_sends_release()
    return hold


def _messages_close(request: SendRequest, state: str, detail: str) -> int:
    now = timezone.now()
    ids = list(
        Message.objects.filter(request=request, state=MessageState.SCHEDULED).values_list(
            "id", flat=True
        )
    )
    Message.objects.filter(id__in=ids, state=MessageState.SCHEDULED).update(
        state=state, updated_at=now
    )
    events_record(EventRow(pk, state, now, detail) for pk in ids)
    return len(ids)
