from __future__ import annotations

import pytest
from django.test import override_settings

from channels_app.models import ChannelAccount
from notify.models import SendRequest
from notify.services import app_create
from templates_app.models import MessageTemplate
from tracking.models import DailyStat, Message, MessageEvent


def send(api, body, **headers):
    return api.post("/api/v1/send", body, format="json", **headers)


def test_send_one_message_persists_it_with_accepted_event(api, email_template):
    response = send(
        api,
        {
            "template": "welcome",
            "messages": [
                {
                    "receiver": "ada@example.com",
                    "variables": {"name": "Ada", "code": "42"},
                    "biz_id": "order-1",
                }
            ],
        },
    )

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"] == []
    [item] = body["messages"]
    message = Message.objects.get(message_id=item["message_id"])
    assert message.receiver == "ada@example.com"
    assert message.biz_id == "order-1"
    assert message.content == {"subject": "Hi Ada", "text": "Hello Ada, code 42"}
    assert message.priority == "normal"
    assert str(message.request.request_id) == body["request_id"]
    assert [(e.state, e.at) for e in message.trace_events()][0] == ("ACCEPTED", message.created_at)


def test_send_by_template_id_with_shared_variables_and_priority(api, email_template):
    response = send(
        api,
        {
            "template": email_template.pk,
            "receivers": ["a@example.com", "b@example.com"],
            "variables": {"name": "all", "code": "1"},
            "priority": "high",
        },
    )

    assert response.status_code == 202
    assert response.json()["accepted"] == 2
    assert set(Message.objects.values_list("priority", flat=True)) == {"high"}
    assert set(Message.objects.values_list("content__subject", flat=True)) == {"Hi all"}


def test_invalid_receivers_are_rejected_by_name_and_the_rest_accepted(api, email_template):
    response = send(
        api,
        {
            "template": "welcome",
            "variables": {"name": "x", "code": "1"},
            "receivers": ["ok@example.com", "not-an-email"],
        },
    )

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [{"receiver": "not-an-email", "reason": "not a valid email address"}]


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        ({"template": "nope", "receivers": ["a@example.com"]}, "template", "unknown template"),
        ({"template": "welcome", "receivers": []}, "messages", "at least one receiver"),
        ({"template": "welcome"}, "messages", "at least one receiver"),
        (
            {"template": "welcome", "messages": [{"receiver": "a@example.com"}]},
            "messages[0].variables",
            "missing variables: code, name",
        ),
        (
            {"template": "welcome", "messages": [{"variables": {}}]},
            "messages[0].receiver",
            "required",
        ),
        (
            {"template": "welcome", "messages": ["a@example.com"]},
            "messages[0]",
            "must be an object",
        ),
        (
            {"template": "welcome", "messages": [{"receiver": "a@example.com", "variables": []}]},
            "messages[0].variables",
            "must be an object",
        ),
        (
            {"template": "welcome", "receivers": ["x"], "variables": {"name": 1, "code": 2}},
            "messages[0].receiver",
            "not a valid email",
        ),
        (
            {"template": "welcome", "receivers": ["a@example.com"], "priority": "urgent"},
            "priority",
            "not a valid choice",
        ),
        ({"template": True, "receivers": ["a@example.com"]}, "template", "id (integer) or code"),
        (
            {"template": "welcome", "receivers": ["a@example.com"], "messages": []},
            "messages",
            "not both",
        ),
        ({"template": "welcome", "receivers": [1]}, "receivers[0]", "must be a string"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    api, email_template, body, field, needle
):
    response = send(api, body)

    assert response.status_code == 400, response.content
    error = response.json()
    assert field in error["fields"], error
    assert needle in " ".join(error["fields"][field])
    assert SendRequest.objects.count() == 0
    assert Message.objects.count() == 0


def test_non_object_body_is_a_400(api, email_template):
    response = api.post("/api/v1/send", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    malformed = api.post("/api/v1/send", "{not json", content_type="application/json")
    assert malformed.status_code == 400


def test_disabled_template_and_disabled_account_are_400(api, email_template, sandbox_account):
    email_template.status = "disabled"
    email_template.save()
    response = send(
        api,
        {
            "template": "welcome",
            "receivers": ["a@example.com"],
            "variables": {"name": "x", "code": "1"},
        },
    )
    assert response.status_code == 400
    assert "disabled" in response.json()["fields"]["template"][0]

    email_template.status = "active"
    email_template.channel_account = sandbox_account
    email_template.save()
    sandbox_account.enabled = False
    sandbox_account.save()
    response = send(
        api,
        {
            "template": "welcome",
            "receivers": ["a@example.com"],
            "variables": {"name": "x", "code": "1"},
        },
    )
    assert response.status_code == 400
    assert "disabled" in response.json()["fields"]["template"][0]


@override_settings(TIDINGS_MAX_RECEIVERS=3)
def test_over_the_receiver_limit_is_413(api, email_template):
    response = send(
        api,
        {
            "template": "welcome",
            "receivers": ["a@example.com"] * 4,
            "variables": {"name": "x", "code": "1"},
        },
    )

    assert response.status_code == 413
    assert response.json()["error"] == "too_many_receivers"
    assert Message.objects.count() == 0


def test_without_or_with_a_wrong_key_is_401(api, email_template, client):
    assert client.post("/api/v1/send", {}, content_type="application/json").status_code == 401
    wrong = client.post(
        "/api/v1/send", {}, content_type="application/json", HTTP_AUTHORIZATION="Api-Key abc.def"
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "authentication_failed"


def test_another_apps_template_is_unknown(api, db):
    other, _ = app_create("other")
    account = ChannelAccount.objects.create(
        app=other, name="s", channel="email", provider="sandbox"
    )
    MessageTemplate.objects.create(
        app=other,
        name="t",
        code="theirs",
        channel="email",
        receiver_type="email",
        content={"subject": "s", "text": "t"},
        channel_account=account,
    )

    response = send(api, {"template": "theirs", "receivers": ["a@example.com"]})

    assert response.status_code == 400
    assert "unknown template" in response.json()["fields"]["template"][0]


def test_same_idempotency_key_answers_the_first_response_and_sends_nothing_again(
    api, email_template
):
    body = {
        "template": "welcome",
        "receivers": ["a@example.com", "b@example.com"],
        "variables": {"name": "x", "code": "1"},
    }
    first = send(api, body, HTTP_IDEMPOTENCY_KEY="order-7")
    second = send(api, body, HTTP_IDEMPOTENCY_KEY="order-7")
    in_body = send(api, {**body, "idempotency_key": "order-7"})

    assert first.status_code == second.status_code == in_body.status_code == 202
    assert second.json() == first.json() == in_body.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 2


def test_expired_idempotency_key_sends_again(api, email_template):
    body = {
        "template": "welcome",
        "receivers": ["a@example.com"],
        "variables": {"name": "x", "code": "1"},
    }
    first = send(api, body, HTTP_IDEMPOTENCY_KEY="k")
    SendRequest.objects.update(created_at="2000-01-01T00:00:00Z")

    again = send(api, body, HTTP_IDEMPOTENCY_KEY="k")

    assert again.json()["request_id"] != first.json()["request_id"]
    assert Message.objects.count() == 2


def test_chinese_and_e164_phone_numbers(api, tenant):
    ChannelAccount.objects.create(app=tenant, name="sms", channel="sms", provider="sandbox")
    MessageTemplate.objects.create(
        app=tenant,
        name="c",
        code="code",
        channel="sms",
        receiver_type="phone",
        content={"text": "{$code}"},
    )

    response = send(
        api,
        {
            "template": "code",
            "variables": {"code": "1"},
            "receivers": ["13800138000", "+8613800138000", "+14155550100", "12345", "+0123"],
        },
    )

    assert response.json()["accepted"] == 3
    assert [r["receiver"] for r in response.json()["rejected"]] == ["12345", "+0123"]


def test_ten_thousand_receivers_in_one_call(api, email_template):
    receivers = [f"user{i}@example.com" for i in range(10_000)]
    response = send(
        api,
        {"template": "welcome", "receivers": receivers, "variables": {"name": "x", "code": "1"}},
    )

    assert response.status_code == 202
    assert response.json()["accepted"] == 10_000
    assert Message.objects.count() == 10_000
    # the ACCEPTED steps are counted, not stored: the trace derives them from created_at
    assert not MessageEvent.objects.exists()
    assert DailyStat.objects.get(state="ACCEPTED").count == 10_000
    assert [m["receiver"] for m in response.json()["messages"]] == receivers


@override_settings(TIDINGS_BATCH_SIZE=400)
def test_after_commit_batches_are_published_on_the_channel_priority_lane(
    api, email_template, broker, django_capture_on_commit_callbacks
):
    receivers = [f"user{i}@example.com" for i in range(1000)]
    with django_capture_on_commit_callbacks(execute=True):
        response = send(
            api,
            {
                "template": "welcome",
                "receivers": receivers,
                "variables": {"name": "x", "code": "1"},
                "priority": "low",
            },
        )

    assert response.status_code == 202
    assert broker.llen("email.low") == 3  # 400 + 400 + 200
    assert set(Message.objects.values_list("state", flat=True)) == {"QUEUED"}


def _reset_broker_pools(celery_app):
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_broker_down_keeps_messages_accepted_for_the_sweeper(
    api, email_template, django_capture_on_commit_callbacks, monkeypatch
):
    from config.celery_app import app as celery_app

    # A real broker address nothing listens on (Celery reads the variable before its conf).
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(celery_app.conf, "broker_connection_retry", False)
    monkeypatch.setitem(celery_app.conf, "broker_connection_max_retries", 0)
    _reset_broker_pools(celery_app)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = send(
                api,
                {
                    "template": "welcome",
                    "receivers": ["a@example.com"],
                    "variables": {"name": "x", "code": "1"},
                },
            )
    finally:
        monkeypatch.undo()
        _reset_broker_pools(celery_app)

    assert response.status_code == 202
    assert Message.objects.get().state == "ACCEPTED"
