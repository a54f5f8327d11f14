"""/metrics, retention, periodic tasks."""

from __future__ import annotations

import re
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from notify.periodic import periodic_tasks
from tracking.models import DailyStat, Message, MessageEvent
from tracking.retention import messages_purge


def test_metrics_expose_tidings_counts_latency_and_pending(ding, send, settings):
    settings.TIDINGS_METRICS_CACHE_SECONDS = 0
    settings.TIDINGS_METRICS_TOKEN = "scrape-token-123"
    send("ding", ["u1", "u2"])
    send("ding", ["u3"], deliver=False)

    body = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").content.decode()

    assert (
        'tidings_message_events_total{channel="dingtalk",priority="normal",state="SENT"} 2.0'
        in body
    )
    assert re.search(
        r'tidings_messages_pending\{lane="dingtalk.normal",state="(ACCEPTED|QUEUED)"\} 1.0', body
    )
    assert 'tidings_oldest_pending_age_seconds{lane="dingtalk.normal"}' in body
    assert 'tidings_provider_call_seconds_count{outcome="ok",provider="dingtalk_work"}' in body
    assert "django_http_requests_total_by_method" in body  # django-prometheus still there


def test_retention_purges_old_messages_and_keeps_aggregates(ding, send, settings):
    settings.TIDINGS_RETENTION_DAYS = 30
    old, new = send("ding", ["u1"])[0], send("ding", ["u2"])[0]
    Message.objects.filter(message_id=old).update(created_at=timezone.now() - timedelta(days=31))
    before = sum(DailyStat.objects.values_list("count", flat=True))

    assert messages_purge(batch_size=1) == 1

    assert list(Message.objects.values_list("message_id", flat=True)).__repr__().count("UUID") == 1
    assert Message.objects.get().message_id.hex == new.replace("-", "")
    assert not MessageEvent.objects.exclude(message__message_id=new).exists()
    assert sum(DailyStat.objects.values_list("count", flat=True)) == before


def test_periodic_tasks_are_installed_for_tracking():
    names = {spec["task"] for spec in periodic_tasks()}
    assert {
        "tracking.tasks.drain_status_callbacks",
        "tracking.tasks.pull_receipts",
        "tracking.tasks.purge_old_messages",
        "tracking.tasks.compact_stats",
    } <= names
