"""Prometheus metrics.

Web and workers are separate processes, so:
- counts, queue depth and oldest-pending age are computed at scrape time by a custom
  collector from the daily aggregates, the active-message index and the broker;
- the provider-call latency histogram is observed in the worker; with
  PROMETHEUS_MULTIPROC_DIR set (the same directory for web and workers, emptied before they
  start) prometheus_client's multiprocess mode merges every process's samples at scrape.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from config.celery_app import app
from notify.lanes import all_lanes
from notify.queueing import lane
from tracking.models import ACTIVE_STATES, DailyStat, Message, MessageState

logger = logging.getLogger(__name__)

PROVIDER_LATENCY = Histogram(
    "tidings_provider_call_seconds",
    "Time of one adapter.send call (a provider batch), by provider and outcome.",
    ["provider", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# Rule outcomes as trace states (counted from the aggregates as rule hits).
RULE_STATES = (
    MessageState.DISCARDED, MessageState.FILTERED_WHITELIST, MessageState.SENSITIVE_MASKED,
    MessageState.SENSITIVE_REJECTED, MessageState.NIGHT_DROPPED, MessageState.NIGHT_DEFERRED,
    MessageState.DEDUP_CONTENT, MessageState.DEDUP_FREQUENCY, MessageState.THROTTLED,
    MessageState.OPTED_OUT, MessageState.EXPIRED,
)  # fmt: skip


def broker_depths(lanes: list[str]) -> dict[str, int]:
    """Tasks waiting per lane, over one broker connection; lanes the broker cannot count
    (no such queue yet, the filesystem transport) are left out."""
    depths: dict[str, int] = {}
    try:
        with app.connection_for_write() as connection:
            channel: Any = (
                connection.default_channel
            )  # Any: kombu's stubs say StdChannel, which lacks queue_declare
            for lane in lanes:
                try:
                    depths[lane] = channel.queue_declare(queue=lane, passive=True).message_count
                except Exception:  # noqa: BLE001 - queue not declared yet
                    channel = connection.channel()
    except Exception:  # noqa: BLE001 - broker down: the DB gauges still answer
        logger.debug("broker depth unavailable", exc_info=True)
    return depths


class TidingsCollector:
    """Tidings' own metrics, computed at scrape time (cached a few seconds)."""

    def __init__(self) -> None:
        self._cache: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        ttl = settings.TIDINGS_METRICS_CACHE_SECONDS
        if self._cache and time.monotonic() - self._cache[0] < ttl:
            yield from self._cache[1]
            return
        try:
            families = self._families()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the DB blinked
            logger.warning("tidings metrics unavailable", exc_info=True)
            families = []
        self._cache = (time.monotonic(), families)
        yield from families

    def describe(self) -> list[Metric]:
        return []

    def _families(self) -> list[Metric]:
        events = CounterMetricFamily(
            "tidings_message_events",
            "Trace events by channel, state and priority (messages reaching each state).",
            labels=["channel", "state", "priority"],
        )
        retries = CounterMetricFamily(
            "tidings_retries", "Delivery attempts that failed and were retried.", labels=["channel"]
        )
        rules = CounterMetricFamily(
            "tidings_rule_hits",
            "Messages stopped, deferred or changed by a rule.",
            labels=["outcome"],
        )
        rule_totals: dict[str, int] = {}
        for row in DailyStat.objects.values("channel", "state", "priority").annotate(
            n=Sum("count")
        ):
            events.add_metric([row["channel"], row["state"], row["priority"]], row["n"])
            if row["state"] == MessageState.RETRYING:
                retries.add_metric([row["channel"]], row["n"])
            if row["state"] in RULE_STATES:
                rule_totals[row["state"]] = rule_totals.get(row["state"], 0) + row["n"]
        for state, count in sorted(rule_totals.items()):
            rules.add_metric([state], count)

        pending = GaugeMetricFamily(
            "tidings_messages_pending",
            "Messages not yet final, by lane and state (from the database).",
            labels=["lane", "state"],
        )
        oldest = GaugeMetricFamily(
            "tidings_oldest_pending_age_seconds",
            "Age of the oldest message waiting to be sent, by lane.",
            labels=["lane"],
        )
        now = timezone.now()
        active = (
            Message.objects.filter(state__in=ACTIVE_STATES)
            .values("channel", "priority", "state")
            .annotate(n=Count("id"), oldest=Min("created_at"))
        )
        ages: dict[str, float] = {}
        for row in active:
            name = lane(row["channel"], row["priority"])
            pending.add_metric([name, row["state"]], row["n"])
            age = (now - row["oldest"]).total_seconds()
            ages[name] = max(ages.get(name, 0.0), age)
        for name, age in sorted(ages.items()):
            oldest.add_metric([name], age)

        depth = GaugeMetricFamily(
            "tidings_queue_depth", "Tasks waiting in the broker, by lane.", labels=["lane"]
        )
        for name, count in sorted(broker_depths(all_lanes()).items()):
            depth.add_metric([name], count)
        return [events, retries, rules, pending, oldest, depth]


COLLECTOR = TidingsCollector()


def metrics_text() -> tuple[bytes, str]:
    """The /metrics body: this process's metrics (or every process's in multiprocess mode)
    plus the scrape-time Tidings collector."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    extra = CollectorRegistry()
    extra.register(COLLECTOR)
    return body + generate_latest(extra), CONTENT_TYPE_LATEST
