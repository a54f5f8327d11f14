"""The whole lifecycle through a real Celery worker: send -> fake DingTalk -> receipts and
clicks -> status callbacks; the trace, the stats API and the dashboard agree."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.webhook.adapter import sign
from templates_app.models import MessageTemplate
from tests.e2e.conftest import final_states, wait_until
from tracking.models import Message
from tracking.receipts.base import receipt_token

pytestmark = pytest.mark.e2e


def test_send_receipts_clicks_callbacks_and_stats_agree(api, tenant, ding, start_worker, settings):
    settings.TIDINGS_PUBLIC_URL = "https://t.example"
    MessageTemplate.objects.filter(code="ding").update(track_clicks=True)
    with FakeHTTPServer() as caller:
        api.put(
            "/api/v1/callback", {"url": caller.url + "/status", "secret": "k" * 20}, format="json"
        )
        start_worker(
            TIDINGS_PUBLIC_URL="https://t.example", TIDINGS_RULES=",".join(settings.TIDINGS_RULES)
        )

        # when four messages go out through the worker
        ids = [
            m["message_id"]
            for m in api.post(
                "/api/v1/send",
                {
                    "template": "ding",
                    "receivers": ["u1", "u2", "u3", "u4"],
                    "variables": {"name": "n"},
                },
                format="json",
            ).json()["messages"]
        ]
        assert wait_until(lambda: final_states(ids) == {"SENT": 4}, timeout=60), final_states(ids)

        # and the provider reports: three delivered, one undelivered, two read
        messages = {m.receiver: m for m in Message.objects.filter(message_id__in=ids)}
        account = messages["u1"].account
        receipts = [
            {"provider_message_id": messages[u].provider_message_id, "status": s, "receiver": u}
            for u, s in [("u1", "delivered"), ("u2", "delivered"), ("u3", "delivered"),
                         ("u4", "undelivered"), ("u1", "read"), ("u2", "read")]
        ]  # fmt: skip
        web = Client()
        response = web.post(
            f"/r/dingtalk_work/{account.pk}/{receipt_token(account.pk)}",
            json.dumps({"receipts": receipts}),
            content_type="application/json",
        )
        assert response.status_code == 200
        # and u1 clicks the rewritten link it received
        sent = [
            body["msg"]["text"]["content"] for body in ding.accepted if body["userid_list"] == "u1"
        ]
        token = re.search(r"https://t\.example/t/([\w-]+)", sent[0])[1]
        assert web.get(f"/t/{token}")["Location"] == "https://example.com/a?x=1"

        # then the final states are as reported
        assert final_states(ids) == {"CLICKED": 1, "READ": 1, "DELIVERED": 1, "UNDELIVERED": 1}

        # and the caller got signed status events for every step it acts on
        from tracking.tasks import drain_status_callbacks

        drain_status_callbacks.apply_async(queue=settings.TIDINGS_HOUSEKEEPING_QUEUE)
        assert wait_until(
            lambda: sum(len(r.json["events"]) for r in caller.requests) == 11, timeout=30
        )
        for request in caller.requests:
            assert request.headers["x-tidings-signature"] == sign(
                "k" * 20, request.headers["x-tidings-timestamp"], request.body
            )
        posted = Counter(e["state"] for r in caller.requests for e in r.json["events"])
        assert posted == {"SENT": 4, "DELIVERED": 3, "UNDELIVERED": 1, "READ": 2, "CLICKED": 1}

    # the trace, the stats API and the dashboard show the same numbers
    trace = Counter(
        e.state
        for m in Message.objects.filter(message_id__in=ids).prefetch_related("events")
        for e in m.trace_events()
    )
    stats = api.get("/api/v1/stats", {"template": "ding"}).json()["totals"]
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("s", "s@example.com", "pw"))
    page = staff.get("/admin/tidings/dashboard/", {"template": "ding"}).content.decode()
    dashboard = json.loads(
        re.search(
            r'<script id="dashboard-data" type="application/json">(.*?)</script>', page, re.S
        )[1]
    )["totals"]
    assert dict(trace) == stats == dashboard
    assert stats["SENT"] == 4 and stats["DELIVERED"] == 3 and stats["CLICKED"] == 1
    detail = api.get(f"/api/v1/messages/{messages['u1'].message_id}").json()
    assert [e["state"] for e in detail["events"]] == [
        "ACCEPTED", "QUEUED", "SENDING", "SENT", "DELIVERED", "READ", "CLICKED",
    ]  # fmt: skip
