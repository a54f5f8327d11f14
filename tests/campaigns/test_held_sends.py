"""POST /api/v1/send with `send_at`, cancelling it, and the approval hold of big API sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notify.actors import Actor
from notify.errors import ApiError
from notify.holds import held_send_decide, held_sends_release
from notify.models import ApprovalRecord, HeldSend
from tracking.models import Message, MessageEvent


def send(api, **extra):
    body = {
        "template": "welcome",
        "receivers": ["a@example.com", "b@example.com"],
        "variables": {"name": "A", "code": "1"},
        **extra,
    }
    return api.post("/api/v1/send", body, format="json")


def states(request_id) -> set[str]:
    return set(
        Message.objects.filter(request__request_id=request_id).values_list("state", flat=True)
    )


def test_send_at_holds_the_messages_until_due_then_releases_them(api, email_template):
    at = timezone.now() + timedelta(hours=1)

    response = send(api, send_at=at.isoformat())

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "SCHEDULED" and body["send_at"] == at.isoformat()
    assert states(body["request_id"]) == {"SCHEDULED"}
    assert held_sends_release() == 0  # not due yet

    assert held_sends_release(now=at + timedelta(seconds=1)) == 2
    assert states(body["request_id"]) == {"QUEUED"}
    message = Message.objects.filter(request__request_id=body["request_id"]).first()
    trace = list(MessageEvent.objects.filter(message=message).values_list("state", flat=True))
    assert trace == ["SCHEDULED", "ACCEPTED"]
    # Started: too late to cancel.
    assert api.delete(f"/api/v1/requests/{body['request_id']}").status_code == 409


def test_a_scheduled_send_can_be_cancelled_until_it_starts(api, other_api, email_template):
    body = send(api, send_at=(timezone.now() + timedelta(days=1)).isoformat()).json()

    assert other_api.delete(f"/api/v1/requests/{body['request_id']}").status_code == 404
    response = api.post(f"/api/v1/requests/{body['request_id']}/cancel")

    assert response.status_code == 200 and response.json()["cancelled"] == 2
    assert states(body["request_id"]) == {"CANCELLED"}
    assert MessageEvent.objects.filter(state="CANCELLED").count() == 2
    assert api.delete(f"/api/v1/requests/{body['request_id']}").status_code == 409
    assert held_sends_release(now=timezone.now() + timedelta(days=2)) == 0


def test_send_at_needs_a_time_zone(api, email_template):
    response = send(api, send_at="2030-01-01T09:00:00")

    assert response.status_code == 400
    assert "send_at" in response.json()["fields"]


def test_send_at_in_the_past_sends_now(api, email_template):
    body = send(api, send_at=(timezone.now() - timedelta(minutes=1)).isoformat()).json()

    assert "state" not in body
    assert states(body["request_id"]) == {"QUEUED"}


def test_a_send_above_the_threshold_waits_for_a_staff_approval(
    api, email_template, settings, staff
):
    settings.TIDINGS_APPROVAL_THRESHOLD = 1
    body = send(api).json()
    assert body["approval"] == "pending" and states(body["request_id"]) == {"SCHEDULED"}
    hold = HeldSend.objects.get(request__request_id=body["request_id"])
    assert held_sends_release() == 0

    held_send_decide(hold.pk, Actor(user=staff("carol")), approve=True)

    assert states(body["request_id"]) == {"QUEUED"}
    record = ApprovalRecord.objects.get(held_send=hold)
    assert (record.action, record.actor) == ("approved", "admin:carol")
    # The same key answers what the first call answered.
    again = send(api, idempotency_key="k1")
    replay = send(api, idempotency_key="k1")
    assert replay.json() == again.json() and replay.json()["approval"] == "pending"


def test_a_rejected_send_is_cancelled_and_an_app_cannot_decide(
    api, email_template, settings, staff
):
    settings.TIDINGS_APPROVAL_THRESHOLD = 1
    body = send(api).json()
    hold = HeldSend.objects.get(request__request_id=body["request_id"])

    with pytest.raises(ApiError) as denied:
        held_send_decide(hold.pk, Actor(app=hold.request.app), approve=True)
    assert denied.value.error_code == "approval_requires_staff"
    held_send_decide(hold.pk, Actor(user=staff("dave")), approve=False, note="too many")

    assert states(body["request_id"]) == {"CANCELLED"}
    assert HeldSend.objects.get(pk=hold.pk).status == "rejected"


def test_threshold_zero_disables_approval(api, email_template, settings):
    settings.TIDINGS_APPROVAL_THRESHOLD = 0

    body = send(api).json()

    assert "approval" not in body and states(body["request_id"]) == {"QUEUED"}
