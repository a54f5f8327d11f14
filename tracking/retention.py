"""Retention: messages and their traces older than TIDINGS_RETENTION_DAYS are purged; the
daily aggregates (stats, dashboards, metrics) are kept.

On PostgreSQL the message store is partitioned by time (tracking/partitions.py): whole
partitions past the window are dropped and partitions ahead are created, so nothing is
deleted row by row except strays in the DEFAULT partition. Elsewhere (SQLite) rows are
deleted in batches."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notify.models import SendRequest
from tracking.models import (
    CallbackDelivery,
    CallbackOutbox,
    Message,
    MessageEvent,
    TrackedLink,
)
from tracking.partitions import (
    is_partitioned,
    oldest_partition_start,
    partitions_drop_expired,
    partitions_ensure,
)

logger = logging.getLogger(__name__)


def messages_purge(
    now: datetime | None = None, batch_size: int | None = None, max_batches: int = 1000
) -> int:
    """Drop expired partitions (PostgreSQL), then delete remaining expired messages oldest
    first, one short transaction per batch, so a purge never holds long locks; returns about
    how many messages went."""
    now = now or timezone.now()
    partitioned = is_partitioned()
    if partitioned:
        partitions_ensure(now)  # with retention off too: new rows need their partitions
    days = settings.TIDINGS_RETENTION_DAYS
    if not days:
        return 0
    cutoff = now - timedelta(days=days)
    size = batch_size or settings.TIDINGS_RETENTION_BATCH_SIZE
    purged = 0
    row_cutoff = cutoff
    if partitioned:
        purged += partitions_drop_expired(now)
        # Rows between the oldest partition's start and the cutoff go with their partition
        # once all of it has expired; older ones can only be strays in DEFAULT.
        oldest = oldest_partition_start()
        row_cutoff = min(cutoff, oldest) if oldest else cutoff
    for _ in range(max_batches):
        ids = list(
            Message.objects.filter(created_at__lt=row_cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:size]
        )
        if not ids:
            break
        with transaction.atomic():
            # Children first, each a plain DELETE (no per-row cascade collection).
            MessageEvent.objects.filter(message_id__in=ids)._raw_delete(MessageEvent.objects.db)
            TrackedLink.objects.filter(message_id__in=ids)._raw_delete(TrackedLink.objects.db)
            CallbackOutbox.objects.filter(message_id__in=ids)._raw_delete(CallbackOutbox.objects.db)
            Message.objects.filter(resent_from_id__in=ids).update(resent_from=None)
            Message.objects.filter(id__in=ids)._raw_delete(Message.objects.db)
        purged += len(ids)
    # Requests whose messages are all gone, and the callback log past retention.
    old_requests = SendRequest.objects.filter(created_at__lt=cutoff, messages__isnull=True)
    for _ in range(max_batches):
        request_ids = list(old_requests.values_list("id", flat=True)[:size])
        if not request_ids:
            break
        SendRequest.objects.filter(id__in=request_ids).delete()
    CallbackDelivery.objects.filter(at__lt=cutoff)._raw_delete(CallbackDelivery.objects.db)
    if purged:
        logger.info("retention: purged %d messages older than %s", purged, cutoff)
    return purged
