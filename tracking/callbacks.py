"""Status callbacks: status events of an App's messages POSTed to its callback URL.

Events are queued in CallbackOutbox by events_record in the same transaction as the event
itself, drained here in batches (one signed POST per App per batch), retried with
exponential backoff, and every POST is logged in CallbackDelivery. The URL obeys the
egress policy (channels_app/providers/egress.py) through http_request; a refused address
is not retried: the App has to register another URL (or the operator allowlist it and
retry the dead rows from the admin)."""

from __future__ import annotations

import json
import logging
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_app.providers.base import DeliveryError
from channels_app.providers.http import http_request
from channels_app.providers.webhook.adapter import sign
from tracking.models import CallbackDelivery, CallbackEndpoint, CallbackOutbox

logger = logging.getLogger(__name__)


def callback_payload(rows: list[CallbackOutbox]) -> dict:
    return {
        "events": [
            {
                "message_id": str(row.message.message_id),
                "biz_id": row.message.biz_id,
                "receiver": row.message.receiver,
                "channel": row.message.channel,
                "state": row.state,
                "at": row.at.isoformat(),
                "detail": row.detail,
            }
            for row in rows
        ]
    }


def callback_post(endpoint: CallbackEndpoint, payload: dict) -> int:
    """POST signed like the webhook provider: X-Tidings-Signature over "<timestamp>.<body>"."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    response = http_request(
        "POST",
        endpoint.url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Tidings-Timestamp": timestamp,
            "X-Tidings-Signature": sign(endpoint.secret, timestamp, body),
            "X-Tidings-Event-Count": str(len(payload["events"])),
        },
        timeout=settings.TIDINGS_CALLBACK_TIMEOUT_SECONDS,
        check_status=False,
    )
    return response.status_code


def callback_backoff(attempts: int) -> float:
    base = settings.TIDINGS_CALLBACK_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1))
    return min(settings.TIDINGS_CALLBACK_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.0)  # noqa: S311


def callbacks_drain(now: datetime | None = None, max_batches: int = 20) -> dict[str, int]:
    """POST due outbox events, one batch per App at a time; returns counts."""
    totals = {"delivered": 0, "failed": 0, "posts": 0}
    for _ in range(max_batches):
        done = _drain_batch(now or timezone.now())
        if done is None:
            break
        for key, value in done.items():
            totals[key] += value
    return totals


def _drain_batch(now: datetime) -> dict[str, int] | None:
    size = settings.TIDINGS_CALLBACK_BATCH_SIZE
    with transaction.atomic():
        # Rows another drainer holds are skipped, so two housekeeping workers never post
        # the same event twice at once.
        rows = list(
            CallbackOutbox.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(dead=False, next_attempt_at__lte=now)
            .select_related("message")
            .order_by("next_attempt_at", "id")[: size * 4]
        )
        if not rows:
            return None
        by_app: dict[int, list[CallbackOutbox]] = defaultdict(list)
        for row in rows:
            if len(by_app[row.app_id]) < size:
                by_app[row.app_id].append(row)
        endpoints = CallbackEndpoint.objects.in_bulk(list(by_app), field_name="app_id")
        counts = {"delivered": 0, "failed": 0, "posts": 0}
        for app_id, batch in by_app.items():
            endpoint = endpoints.get(app_id)
            if endpoint is None or not endpoint.enabled:
                # The App removed its URL: nobody is waiting for these any more.
                CallbackOutbox.objects.filter(id__in=[r.id for r in batch]).delete()
                continue
            counts["posts"] += 1
            if _post_batch(endpoint, batch, now):
                counts["delivered"] += len(batch)
            else:
                counts["failed"] += len(batch)
    return counts


def _post_batch(endpoint: CallbackEndpoint, batch: list[CallbackOutbox], now: datetime) -> bool:
    started = time.monotonic()
    status, error, refused = None, "", False
    try:
        status = callback_post(endpoint, callback_payload(batch))
    except DeliveryError as exc:  # timeout, connection refused, egress_denied
        error = str(exc)[:1000]
        refused = exc.code == "egress_denied"
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = f"HTTP {status}"
    CallbackDelivery.objects.create(
        app_id=endpoint.app_id,
        url=endpoint.url,
        at=now,
        events=len(batch),
        ok=ok,
        status_code=status,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if ok:
        CallbackOutbox.objects.filter(id__in=[r.id for r in batch]).delete()
        return True
    for row in batch:
        row.attempts += 1
        row.last_error = error
        row.dead = refused or row.attempts >= settings.TIDINGS_CALLBACK_MAX_ATTEMPTS
        row.next_attempt_at = now + timedelta(seconds=callback_backoff(row.attempts))
    CallbackOutbox.objects.bulk_update(batch, ["attempts", "last_error", "dead", "next_attempt_at"])
    logger.warning("status callback to App %s failed: %s", endpoint.app_id, error)
    return False
