"""Daily aggregates written with the events, the stats API, the receiver trace."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tracking.models import DailyStat, FailureStat, Message
from tracking.services import messages_advance, stats_compact


def _stats(api, **params):
    response = api.get("/api/v1/stats", params)
    assert response.status_code == 200, response.json()
    return response.json()


def test_stats_count_every_trace_event_without_counting_messages(
    api, ding, send, django_assert_max_num_queries
):
    ids = send("ding", ["u1", "u2", "u3"])
    pks = list(Message.objects.filter(message_id__in=ids).values_list("id", flat=True))
    now = timezone.now()
    messages_advance(pks[:2], "DELIVERED", now, "receipt")
    messages_advance(pks[:1], "READ", now, "read")
    messages_advance(pks[:2], "DELIVERED", now, "duplicate receipt")  # moves nothing

    body = _stats(api, template="ding")

    trace = {}
    for message in Message.objects.filter(pk__in=pks):
        for event in message.trace_events():
            trace[event.state] = trace.get(event.state, 0) + 1
    assert body["totals"] == trace
    assert trace == {"ACCEPTED": 3, "QUEUED": 3, "SENDING": 3, "SENT": 3, "DELIVERED": 2, "READ": 1}
    assert {r["channel"] for r in body["rows"]} == {"dingtalk"}
    assert body["rows"][0]["day"] == timezone.localdate().isoformat()
    # deltas (one row per key per write), folded by beat into one row per state
    send("ding", ["u4"])
    trace = {
        s: c + (1 if s in ("ACCEPTED", "QUEUED", "SENDING", "SENT") else 0)
        for s, c in trace.items()
    }
    assert DailyStat.objects.count() == 10
    assert stats_compact() == 4
    assert DailyStat.objects.count() == 6
    assert _stats(api, template="ding")["totals"] == trace
    assert stats_compact() == 0


def test_stats_filters_and_validation(api, ding, send):
    send("ding", ["u1"])
    assert _stats(api, channel="email")["rows"] == []
    assert _stats(api, template="nope")["rows"] == []
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert _stats(api, date_to=yesterday)["rows"] == []

    bad = api.get("/api/v1/stats", {"date_from": "yesterday"})
    assert bad.status_code == 400
    assert list(bad.json()["fields"]) == ["date_from"]
    assert api.get("/api/v1/stats", {"state": "LOST"}).json()["fields"] == {
        "state": ["unknown state 'LOST'"]
    }
    reversed_range = api.get("/api/v1/stats", {"date_from": "2025-02-01", "date_to": "2025-01-01"})
    assert reversed_range.status_code == 400


def test_stats_of_another_app_are_invisible(api, ding, send):
    from rest_framework.test import APIClient

    from notify.services import app_create

    send("ding", ["u1"])
    _, key = app_create("other")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert other.get("/api/v1/stats").json()["rows"] == []
    assert other.get("/api/v1/receivers/u1/messages").json()["results"] == []


def test_failure_reasons_are_aggregated_without_the_retry_suffix(api, ding, send):
    from channels_app.providers.fakes_errors import ding_err

    ding.faults.extend([ding_err(40035, "缺少参数 agent_id")])
    send("ding", ["u1"])
    assert Message.objects.get().state == "FAILED"
    reason = FailureStat.objects.get()
    assert reason.state == "FAILED" and reason.count == 1
    assert "agent_id" in reason.reason


def test_receiver_messages_with_trace_over_a_date_range(api, ding, send):
    first = send("ding", ["u1"], name="first")[0]
    second = send("ding", ["u1"], name="second")[0]  # new content: not a duplicate
    send("ding", ["u2"])
    Message.objects.filter(message_id=first).update(created_at=timezone.now() - timedelta(days=10))

    everything = api.get("/api/v1/receivers/u1/messages").json()["results"]
    recent = api.get(
        "/api/v1/receivers/u1/messages",
        {"date_from": (timezone.localdate() - timedelta(days=2)).isoformat()},
    ).json()["results"]

    assert [m["message_id"] for m in everything] == [second, first]
    assert [m["message_id"] for m in recent] == [second]
    assert recent[0]["state"] == "SENT"
    assert [e["state"] for e in recent[0]["events"]] == ["ACCEPTED", "QUEUED", "SENDING", "SENT"]
    bad = api.get("/api/v1/receivers/u1/messages", {"date_to": "31/12/2025"})
    assert bad.status_code == 400 and "date_to" in bad.json()["fields"]
