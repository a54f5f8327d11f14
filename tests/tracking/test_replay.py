"""Dead letters and bulk replay: POST /api/v1/messages/replay, idempotent and audited."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.providers.dingtalk_work.fake import FakeDingTalkWork
from channels_app.providers.fakes_http import Recorded, Reply
from tests.e2e.conftest import final_states, wait_until
from tests.tracking.conftest import ding_channel
from tracking.models import Message, ReplayAudit


class OutageDingTalk(FakeDingTalkWork):
    """DingTalk that answers 500 to every send while `down` (a provider outage)."""

    down = False

    def __call__(self, request: Recorded) -> Reply:
        if self.down and request.path.endswith("asyncsend_v2"):
            return Reply(status=500, body={"errcode": -1, "errmsg": "system busy"})
        return super().__call__(request)

    def receivers(self) -> Counter:
        return Counter(u for body in self.accepted for u in body["userid_list"].split(","))


@pytest.fixture
def outage_ding(tenant):
    with ding_channel(tenant, OutageDingTalk(), "Hi {$name}") as fake:
        yield fake


@pytest.mark.e2e
def test_replay_after_an_outage_delivers_each_failed_message_once(
    api, outage_ding, start_worker, settings
):
    # given 1,000 messages that FAILED while the provider answered 500
    start_worker(TIDINGS_MAX_ATTEMPTS="1", TIDINGS_BREAKER_FAILURES="1000")
    outage_ding.down = True
    receivers = [f"u{i}" for i in range(1000)]
    response = api.post(
        "/api/v1/send",
        {"template": "ding", "receivers": receivers, "variables": {"name": "n"}},
        format="json",
    )
    assert response.status_code == 202, response.json()
    ids = [m["message_id"] for m in response.json()["messages"]]
    assert wait_until(lambda: final_states(ids) == {"FAILED": 1000}, timeout=120), final_states(ids)
    assert outage_ding.accepted == []

    # when the provider is healthy again: a dry run counts, then the replay resends
    outage_ding.down = False
    window = {
        "since": (timezone.now() - timedelta(hours=1)).isoformat(),
        "until": (timezone.now() + timedelta(minutes=1)).isoformat(),
    }
    dry = api.post(
        "/api/v1/messages/replay", {"template": "ding", "dry_run": True, **window}, format="json"
    )
    assert dry.status_code == 200, dry.json()
    assert dry.json()["matched"] == 1000 and dry.json()["resent"] == 1000
    assert outage_ding.accepted == []
    replay = api.post(
        "/api/v1/messages/replay",
        {"template": "ding", "channel": "dingtalk", "account": "ding", **window},
        format="json",
    )
    assert replay.status_code == 202, replay.json()
    assert replay.json()["resent"] == 1000 and replay.json()["skipped"] == 0

    # then each receiver got exactly one message, through linked resends
    copies = Message.objects.filter(resent_from__message_id__in=ids)
    copy_ids = list(copies.values_list("message_id", flat=True))
    assert len(copy_ids) == 1000
    assert wait_until(lambda: final_states(copy_ids) == {"SENT": 1000}, timeout=120), final_states(
        copy_ids
    )
    assert outage_ding.receivers() == Counter(receivers)

    # and the same replay again sends nothing new
    again = api.post(
        "/api/v1/messages/replay",
        {"template": "ding", "channel": "dingtalk", "account": "ding", **window},
        format="json",
    )
    assert again.status_code == 202
    assert again.json()["matched"] == 1000
    assert again.json()["resent"] == 0 and again.json()["skipped"] == 1000
    assert Message.objects.filter(resent_from__isnull=False).count() == 1000
    assert outage_ding.receivers() == Counter(receivers)
    # every call is audited: who, which filter, how many
    audits = list(ReplayAudit.objects.order_by("id"))
    assert [(a.dry_run, a.resent, a.skipped) for a in audits] == [
        (True, 1000, 0),
        (False, 1000, 0),
        (False, 0, 1000),
    ]
    assert audits[1].actor.startswith("api-key ") and audits[1].filter["template"] == "ding"
    copy = copies.first()
    assert f"replay #{audits[1].pk}" in copy.events.order_by("at", "id").first().detail


def test_replay_filters_by_error_code_and_state(api, tenant, ding, send):
    from channels_app.providers.fakes_errors import ding_err

    ding.faults.append(ding_err(40035, "缺少参数 agent_id"))
    failed = send("ding", ["u1"])[0]
    send("ding", ["u2"])  # SENT
    assert Message.objects.get(message_id=failed).state == "FAILED"

    other_code = api.post(
        "/api/v1/messages/replay", {"error_code": "99999", "dry_run": True}, format="json"
    )
    assert other_code.json()["matched"] == 0
    by_code = api.post(
        "/api/v1/messages/replay", {"error_code": "40035", "dry_run": True}, format="json"
    )
    assert by_code.json()["matched"] == 1
    sent = api.post("/api/v1/messages/replay", {"state": "SENT", "dry_run": True}, format="json")
    assert sent.json()["matched"] == 1


def test_replay_rejects_bad_filters_naming_the_field(api, tenant):
    in_flight = api.post("/api/v1/messages/replay", {"state": "QUEUED"}, format="json")
    assert in_flight.status_code == 400 and "state" in in_flight.json()["fields"]
    backwards = api.post(
        "/api/v1/messages/replay",
        {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
        format="json",
    )
    assert backwards.status_code == 400 and "until" in backwards.json()["fields"]
    bad_time = api.post("/api/v1/messages/replay", {"since": "yesterday"}, format="json")
    assert bad_time.status_code == 400 and "since" in bad_time.json()["fields"]
