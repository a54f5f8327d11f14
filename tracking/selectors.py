"""Reads of messages and their traces, always scoped to one App.

These reads tolerate a moment of replication lag, so they go to the read replica when one
is configured (`read_db()`); a message not there yet is read from the primary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet, Sum

from config.db_routers import read_db
from notify.models import App, CampaignBatch, SendRequest
from templates_app.selectors import template_ref_q
from tracking.models import DailyStat, FailureStat, Message, MessageEvent, MessageState


def request_pks(request_id: Any) -> list[int]:
    """The SendRequest pks a request_id stands for: itself, and for a send to an audience
    (notify.audience) the request of each batch its campaign committed."""
    pk = SendRequest.objects.filter(request_id=request_id).values_list("pk", flat=True).first()
    if pk is None:
        return []
    batches = CampaignBatch.objects.filter(
        run__campaign__origin_request_id=pk, request__isnull=False
    ).values_list("request_id", flat=True)
    return [pk, *batches]


def message_list(app: App) -> QuerySet[Message]:
    return Message.objects.using(read_db()).filter(app=app).select_related("template", "request")


def message_get(app: App, message_id: str, *, for_write: bool = False) -> Message:
    """Raises Message.DoesNotExist for unknown ids and for other Apps' messages alike.
    `for_write`: the caller acts on the message (recall, resend), so read the primary."""
    messages = Message.objects.select_related("template", "request").prefetch_related("events")
    if not for_write and read_db() != "default":
        try:
            return messages.using(read_db()).get(app=app, message_id=message_id)
        except Message.DoesNotExist:
            pass  # not replicated yet, or unknown: the primary says which
    return messages.get(app=app, message_id=message_id)


def receiver_messages(
    app: App, receiver: str, start: datetime | None, end: datetime | None
) -> QuerySet[Message]:
    """Every message of `app` to `receiver` created in [start, end), newest first, with its
    trace. Served by the (app, receiver, id) index; the date range filters that handful."""
    messages = Message.objects.using(read_db()).filter(app=app, receiver=receiver)
    if start is not None:
        messages = messages.filter(created_at__gte=start)
    if end is not None:
        messages = messages.filter(created_at__lt=end)
    return messages.select_related("template", "request", "resent_from").prefetch_related(
        Prefetch("events", queryset=MessageEvent.objects.order_by("at", "id"))
    )


@dataclass
class StatsFilter:
    date_from: date
    date_to: date  # inclusive
    apps: list[int] | None = None  # None: every App (the admin dashboard)
    template: str = ""  # code or id
    channel: str = ""
    state: str = ""
    priority: str = ""

    def apply(self, rows: QuerySet) -> QuerySet:
        rows = rows.filter(day__gte=self.date_from, day__lte=self.date_to)
        if self.apps is not None:
            rows = rows.filter(app_id__in=self.apps)
        if self.template:
            rows = rows.filter(template_ref_q(self.template))
        if self.channel:
            rows = rows.filter(channel=self.channel)
        if self.state:
            rows = rows.filter(state=self.state)
        if self.priority:
            rows = rows.filter(priority=self.priority)
        return rows


def stats_rows(filters: StatsFilter) -> list[dict]:
    """Counts per day / template / channel / state from the daily aggregates."""
    rows = (
        filters.apply(DailyStat.objects.using(read_db()))
        .values("day", "template_id", "template__code", "channel", "state")
        .annotate(total=Sum("count"))
        .order_by("day", "template__code", "channel", "state")
    )
    return [
        {
            "day": row["day"].isoformat(),
            "template": row["template__code"],
            "template_id": row["template_id"],
            "channel": row["channel"],
            "state": row["state"],
            "count": row["total"],
        }
        for row in rows
    ]


def stats_totals(rows: list[dict]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["state"]] = totals.get(row["state"], 0) + row["count"]
    return totals


def failure_top(filters: StatsFilter, limit: int = 10) -> list[dict]:
    rows = (
        filters.apply(FailureStat.objects.using(read_db()))
        .values("reason", "state")
        .annotate(total=Sum("count"))
        .order_by("-total", "reason")[:limit]
    )
    return [{"reason": r["reason"], "state": r["state"], "count": r["total"]} for r in rows]


# The delivery funnel's steps, in order.
FUNNEL_STATES = [
    MessageState.ACCEPTED,
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.READ,
    MessageState.CLICKED,
]
TABLE_STATES = [
    *FUNNEL_STATES,
    MessageState.UNDELIVERED,
    MessageState.FAILED,
    MessageState.RECALLED,
]


def dashboard_data(filters: StatsFilter, top: int = 10) -> dict:
    """Everything the admin dashboard draws, from the aggregates only."""
    rows = stats_rows(filters)
    days = []
    day = filters.date_from
    while day <= filters.date_to:
        days.append(day.isoformat())
        day += timedelta(days=1)
    funnel: dict[tuple[str, str], dict[str, int]] = {}
    series: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = funnel.setdefault((row["template"], row["day"]), {})
        counts[row["state"]] = counts.get(row["state"], 0) + row["count"]
        per_day = series.setdefault(row["channel"], {})
        if row["state"] == (filters.state or MessageState.SENT):
            per_day[row["day"]] = per_day.get(row["day"], 0) + row["count"]
    funnel_totals: dict[str, dict[str, int]] = {}
    for (template, _), counts in funnel.items():
        into = funnel_totals.setdefault(template, {})
        for state, count in counts.items():
            into[state] = into.get(state, 0) + count
    return {
        "days": days,
        "funnel_states": [str(s) for s in FUNNEL_STATES],
        "table_states": [str(s) for s in TABLE_STATES],
        "funnel": [
            {
                "template": template,
                "day": day,
                "counts": counts,
                "cells": [(str(s), counts.get(s, 0)) for s in TABLE_STATES],
            }
            for (template, day), counts in sorted(funnel.items())
        ],
        "funnel_totals": funnel_totals,
        "series_state": str(filters.state or MessageState.SENT),
        "series": {
            channel: [per_day.get(d, 0) for d in days]
            for channel, per_day in sorted(series.items())
        },
        "failures": failure_top(filters, top),
        "totals": stats_totals(rows),
    }
