"""The message admin: a trace to the millisecond, no worker internals, no delete; the
"Failed messages" page and the "replay selected" action."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.test import Client

from channels_app.providers.fakes_errors import ding_err
from tracking.models import Message, ReplayAudit


def staff() -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_message_page_shows_ms_trace_and_hides_internals_and_delete(api, ding, send):
    message = Message.objects.get(message_id=send("ding", ["u1"])[0])
    client = staff()

    page = client.get(f"/admin/tracking/message/{message.pk}/change/").content.decode()

    # every step to the millisecond, with the time since the step before
    stamps = re.findall(r"class='trace-at'>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})<", page)
    assert len(stamps) == len(message.trace_events()) == 4
    assert len(re.findall(r"class='trace-step'>\+\d+ ms<", page)) == 3
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3}", page.split("Sent at", 1)[1])
    for internal in ("Lease expires at", "Claim token", "Dispatched at"):
        assert internal not in page
    assert "deletelink" not in page
    assert client.get(f"/admin/tracking/message/{message.pk}/delete/").status_code == 403
    changelist = client.get("/admin/tracking/message/").content.decode()
    assert 'value="delete_selected"' not in changelist
    assert "Failed messages" in changelist


def test_failed_page_groups_by_reason_and_replays_once(api, ding, send):
    ding.faults.extend([ding_err(40035, "缺少参数 agent_id")] * 2)
    first = send("ding", ["u1"])[0]
    second = send("ding", ["u2"])[0]
    assert {m.state for m in Message.objects.all()} == {"FAILED"}
    client = staff()

    page = client.get("/admin/tracking/message/failed/").content.decode()
    assert "[40035]" in page and "Replay these (2)" in page

    response = client.post(
        "/admin/tracking/message/failed/",
        {"app_id": Message.objects.first().app_id, "kind": "error_code", "key": "40035"},
    )
    assert response.status_code == 302
    copies = Message.objects.filter(resent_from__message_id__in=[first, second])
    assert copies.count() == 2
    # pressing again sends nothing new, and the group is gone from the page
    client.post(
        "/admin/tracking/message/failed/",
        {"app_id": Message.objects.first().app_id, "kind": "error_code", "key": "40035"},
    )
    assert Message.objects.filter(resent_from__isnull=False).count() == 2
    assert "Replay these (" not in client.get("/admin/tracking/message/failed/").content.decode()
    audits = list(ReplayAudit.objects.order_by("id").values_list("actor", "resent"))
    assert audits == [("staff ops", 2), ("staff ops", 0)]


def test_replay_selected_action(api, ding, send):
    ids = send("ding", ["u1", "u2"], name="x")
    selected = list(Message.objects.filter(message_id__in=ids).values_list("pk", flat=True))
    client = staff()

    for _ in range(2):
        response = client.post(
            "/admin/tracking/message/",
            {"action": "replay_selected", "_selected_action": selected},
        )
        assert response.status_code == 302
    assert Message.objects.filter(resent_from__isnull=False).count() == 2
    assert ReplayAudit.objects.filter(actor="staff ops").count() == 2
