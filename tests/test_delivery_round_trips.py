"""A consumed batch costs a constant number of database round trips, whatever its size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notify.delivery import batch_deliver
from tracking.models import Message


@pytest.fixture
def send(api, broker):
    sent = [0]

    def _send(template: str, count: int, variables: dict) -> list[int]:
        receivers = [f"u{sent[0] + i}@example.com" for i in range(count)]
        sent[0] += count
        response = api.post(
            "/api/v1/send",
            {"template": template, "receivers": receivers, "variables": variables},
            format="json",
        )
        assert response.status_code == 202, response.content
        ids = [m["message_id"] for m in response.json()["messages"]]
        return list(Message.objects.filter(message_id__in=ids).values_list("pk", flat=True))

    return _send


def _queries(ids: list[int]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        batch_deliver(ids)
    assert set(Message.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"SENT"}
    return [q["sql"] for q in captured.captured_queries]


def test_a_batch_costs_the_same_few_round_trips_for_1_and_50_messages(send, email_template):
    # the claim (one UPDATE … RETURNING) + its events and stats, two rule reads, three
    # loads (templates, accounts, routes), the SENDING events and stats before the call,
    # the provider, SENT with the provider ids and attempts in one UPDATE + events and
    # stats: 11 statements (the events' COPY is not captured), plus the test transaction's
    # savepoints around the three transactions (32 at first, 21 with a dispatch mark that
    # wrote every message row before the call)
    variables = {"name": "x", "code": "1"}
    _queries(send("welcome", 1, variables))  # warm caches (rule configs)
    one = _queries(send("welcome", 1, variables))
    fifty = _queries(send("welcome", 50, variables))
    assert len(one) == len(fifty), (len(one), len(fifty))
    assert len(one) <= 17, "\n".join(sql[:120] for sql in one)
    # A delivered message's row is written twice: by the claim and with its result.
    row_writes = [sql for sql in fifty if 'UPDATE "tracking_message"' in sql]
    assert len(row_writes) == 2, "\n".join(sql[:120] for sql in row_writes)
