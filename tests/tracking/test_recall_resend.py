"""Recall and resend against the local DingTalk work-notice and WeCom app-message fakes."""

from __future__ import annotations

import pytest

from notify.delivery import batch_deliver
from tracking.models import Message


@pytest.mark.parametrize("fixture", ["ding", "wecom"])
def test_recall_withdraws_at_the_provider_and_marks_recalled(request, api, send, fixture):
    # given a sent message
    fake = request.getfixturevalue(fixture)
    template = "ding" if fixture == "ding" else "wecom"
    message_id = send(template, ["u1"])[0]
    message = Message.objects.get(message_id=message_id)
    assert message.state == "SENT"

    # when the caller recalls it
    response = api.post(f"/api/v1/messages/{message_id}/recall")

    # then the provider withdrew it and the trace says so
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "RECALLED"
    assert [str(r) for r in fake.recalled] == [message.provider_message_id]
    assert response.json()["events"][-1]["state"] == "RECALLED"
    # a second recall is a clear conflict, and the provider is not called again
    again = api.post(f"/api/v1/messages/{message_id}/recall")
    assert again.status_code == 409
    assert again.json()["error"] == "not_recallable"
    assert len(fake.recalled) == 1


def test_recall_by_request_withdraws_each_provider_id_once(api, ding, send):
    ids = send("ding", ["u1", "u2", "u3"])
    request_id = Message.objects.get(message_id=ids[0]).request.request_id

    response = api.post(f"/api/v1/requests/{request_id}/recall")

    assert response.status_code == 200, response.json()
    assert sorted(response.json()["recalled"]) == sorted(ids)
    # one asyncsend_v2 call covered all three receivers: one recall call
    assert len(ding.recalled) == 1
    assert set(Message.objects.filter(message_id__in=ids).values_list("state", flat=True)) == {
        "RECALLED"
    }


def test_recall_is_409_for_a_provider_that_cannot_withdraw(api, email_template, send):
    message_id = send("welcome", ["a@example.com"], name="n", code="1")[0]
    assert Message.objects.get(message_id=message_id).state == "SENT"

    response = api.post(f"/api/v1/messages/{message_id}/recall")

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "not_recallable"
    assert "cannot withdraw" in body["message"]
    assert Message.objects.get(message_id=message_id).state == "SENT"


def test_recall_of_a_message_not_yet_sent_is_409(api, ding, send):
    message_id = send("ding", ["u1"], deliver=False)[0]
    response = api.post(f"/api/v1/messages/{message_id}/recall")
    assert response.status_code == 409
    assert "nothing to withdraw" in response.json()["message"]


def test_recall_failure_at_the_provider_is_502_and_changes_nothing(api, wecom, send):
    message_id = send("wecom", ["u1"])[0]
    wecom.msgids.clear()  # the provider no longer knows the msgid (e.g. older than 24h)

    response = api.post(f"/api/v1/messages/{message_id}/recall")

    assert response.status_code == 502
    assert response.json()["error"] == "recall_failed"
    assert Message.objects.get(message_id=message_id).state == "SENT"


@pytest.mark.parametrize("fixture", ["ding", "wecom"])
def test_resend_creates_a_linked_message_that_is_sent_again(request, api, send, fixture):
    fake = request.getfixturevalue(fixture)
    template = "ding" if fixture == "ding" else "wecom"
    original = send(template, ["u1"], name="Ada")[0]

    response = api.post(f"/api/v1/messages/{original}/resend")

    assert response.status_code == 202, response.json()
    copy_id = response.json()["message_id"]
    copy = Message.objects.get(message_id=copy_id)
    assert copy.resent_from.message_id.hex == original.replace("-", "")
    assert copy.receiver == "u1" and copy.state == "ACCEPTED"
    batch_deliver([copy.pk])
    copy.refresh_from_db()
    assert copy.state == "SENT"
    assert len(fake.accepted) == 2
    assert fake.accepted[0] == fake.accepted[1]  # same content to the provider
    detail = api.get(f"/api/v1/messages/{original}").json()
    assert detail["resends"] == [copy_id]
    copy_detail = api.get(f"/api/v1/messages/{copy_id}").json()
    assert copy_detail["resent_from"] == original
    assert copy_detail["events"][0]["detail"].startswith(f"resend of {original} (operator intent")


def test_resend_of_a_message_in_flight_is_409(api, ding, send):
    message_id = send("ding", ["u1"], deliver=False)[0]
    response = api.post(f"/api/v1/messages/{message_id}/resend")
    assert response.status_code == 409
    assert response.json()["error"] == "not_resendable"


def test_another_apps_message_cannot_be_recalled_or_resent(api, ding, send):
    from rest_framework.test import APIClient

    from notify.services import app_create

    message_id = send("ding", ["u1"])[0]
    _, other_key = app_create("other")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")

    assert other.post(f"/api/v1/messages/{message_id}/recall").status_code == 404
    assert other.post(f"/api/v1/messages/{message_id}/resend").status_code == 404
    assert ding.recalled == []


def test_resend_right_after_sending_is_delivered_though_a_repeat_send_is_a_duplicate(
    api, ding, send
):
    # given a SENT message, with content dedup and the frequency cap on (the default rules)
    original = send("ding", ["u1"], name="Ada")[0]
    assert Message.objects.get(message_id=original).state == "SENT"
    # a second identical send is a duplicate: dedup is really on
    repeat = send("ding", ["u1"], name="Ada")[0]
    assert Message.objects.get(message_id=repeat).state == "DEDUP_CONTENT"
    assert len(ding.accepted) == 1

    # when the operator resends the original right away
    response = api.post(f"/api/v1/messages/{original}/resend")
    assert response.status_code == 202, response.json()
    copy = Message.objects.get(message_id=response.json()["message_id"])
    batch_deliver([copy.pk])

    # then it reached the provider and the trace says it was an operator resend
    copy.refresh_from_db()
    assert copy.state == "SENT"
    assert len(ding.accepted) == 2
    first = copy.events.order_by("at", "id").first()
    assert first.state == "ACCEPTED" and "operator intent" in first.detail


def test_resend_still_honours_discard(api, ding, send):
    from notify.models import TemplateRule
    from notify.rules.config import rule_config_clear
    from templates_app.models import MessageTemplate

    original = send("ding", ["u1"], name="Ada")[0]
    TemplateRule.objects.create(template=MessageTemplate.objects.get(code="ding"), discarded=True)
    rule_config_clear()

    copy_id = api.post(f"/api/v1/messages/{original}/resend").json()["message_id"]
    copy = Message.objects.get(message_id=copy_id)
    batch_deliver([copy.pk])

    copy.refresh_from_db()
    assert copy.state == "DISCARDED"
    assert len(ding.accepted) == 1


def test_resend_honours_quiet_hours_unless_the_caller_says_otherwise(api, ding, send):
    from datetime import timedelta

    from django.utils import timezone

    from notify.models import RuleSettings, TemplateRule
    from notify.rules.config import rule_config_clear
    from templates_app.models import MessageTemplate

    original = send("ding", ["u1"], name="Ada")[0]
    now = timezone.now()
    RuleSettings.objects.create(
        app=MessageTemplate.objects.get(code="ding").app,
        time_zone="UTC",
        quiet_start=(now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        quiet_end=(now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    TemplateRule.objects.create(
        template=MessageTemplate.objects.get(code="ding"), night_mode="drop"
    )
    rule_config_clear()

    plain = api.post(f"/api/v1/messages/{original}/resend").json()["message_id"]
    forced = api.post(
        f"/api/v1/messages/{original}/resend", {"ignore_quiet_hours": True}, format="json"
    ).json()["message_id"]
    batch_deliver(
        list(Message.objects.filter(message_id__in=[plain, forced]).values_list("id", flat=True))
    )

    assert Message.objects.get(message_id=plain).state == "NIGHT_DROPPED"
    forced_message = Message.objects.get(message_id=forced)
    assert forced_message.state == "SENT"
    assert "quiet hours (the caller asked)" in forced_message.events.first().detail
    assert len(ding.accepted) == 2
    bad = api.post(
        f"/api/v1/messages/{original}/resend", {"ignore_quiet_hours": "x"}, format="json"
    )
    assert bad.status_code == 400 and "ignore_quiet_hours" in bad.json()["fields"]
