"""The consumer side in-process: claim, rules, provider call, final state and trace."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from channels_app.models import ChannelAccount, SandboxDelivery
from channels_app.providers.fakes_http import Reply
from notify.delivery import batch_deliver, messages_claim
from notify.recording import retry_delay
from notify.sweeper import messages_requeue_stuck
from templates_app.models import MessageTemplate
from tracking.models import DailyStat, Message, MessageEvent, MessageState


@pytest.fixture
def send(api, broker):
    def _send(
        template: str, receivers: list[str], variables: dict | None = None, **extra
    ) -> list[Message]:
        response = api.post(
            "/api/v1/send",
            {"template": template, "receivers": receivers, "variables": variables or {}, **extra},
            format="json",
        )
        assert response.status_code == 202, response.content
        ids = [m["message_id"] for m in response.json()["messages"]]
        return list(Message.objects.filter(message_id__in=ids).order_by("id"))

    return _send


def states(messages):
    return [Message.objects.get(pk=m.pk).state for m in messages]


def trace(message):
    return [e.state for e in Message.objects.get(pk=message.pk).trace_events()]


def test_sandbox_send_ends_sent_with_full_trace(send, email_template):
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "SENT"
    assert message.attempts == 1
    assert message.provider_message_id.startswith("sandbox-")
    assert trace(message) == ["ACCEPTED", "QUEUED", "SENDING", "SENT"]
    assert SandboxDelivery.objects.get().content["subject"] == "Hi Ada"


def test_the_first_queued_is_derived_from_the_row_and_still_counted(send, email_template):
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})

    batch_deliver([message.pk])

    message = Message.objects.get(pk=message.pk)
    # Not a stored row (one write per message fewer), but in the trace and the day's counts.
    assert list(message.events.values_list("state", flat=True)) == ["SENDING", "SENT"]
    accepted, queued, *_ = message.trace_events()
    assert (queued.state, queued.at, queued.detail) == (
        "QUEUED", message.queued_at, "lane email.normal",
    )  # fmt: skip
    assert accepted.at <= queued.at
    counted = DailyStat.objects.filter(state="QUEUED", template_id=message.template_id)
    assert counted.aggregate(n=Sum("count"))["n"] == 1


def test_redelivered_task_never_sends_twice(send, email_template):
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})

    batch_deliver([message.pk])
    batch_deliver([message.pk])

    assert SandboxDelivery.objects.count() == 1
    assert trace(message).count("SENT") == 1


def test_claim_skips_messages_another_worker_holds(send, email_template):
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    now = timezone.now()
    before = Message.objects.get(pk=message.pk).state
    assert before != MessageState.SENDING
    assert messages_claim([], now)[0] == []

    claimed, first_token = messages_claim([message.pk], now)
    assert len(claimed) == 1
    # The claimed row reads as it was before the claim (its claim event says so), with
    # its fields converted as any query would.
    assert claimed[0].state == before
    assert claimed[0].variables == {"name": "Ada", "code": "1"}
    assert claimed[0].message_id == message.message_id
    assert Message.objects.get(pk=message.pk).state == MessageState.SENDING
    assert messages_claim([message.pk], now)[0] == []
    # Past the lease the holder is taken to be dead and the message can be claimed again,
    # under a new token that fences the first holder out.
    later = now + timedelta(seconds=10_000)
    reclaimed, second_token = messages_claim([message.pk], later)
    assert len(reclaimed) == 1
    assert reclaimed[0].state == MessageState.SENDING
    assert second_token != first_token
    assert Message.objects.get(pk=message.pk).claim_token == second_token


def test_webhook_is_signed_and_carries_the_message_id(send, webhook, fake_http):
    [message] = send("hook", ["user-1"], {"name": "Ada"})

    batch_deliver([message.pk])

    [request] = fake_http.requests
    timestamp = request.headers["x-tidings-timestamp"]
    expected = (
        "sha256="
        + hmac.new(b"s3cret", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    )
    assert request.headers["x-tidings-signature"] == expected
    assert request.headers["idempotency-key"] == str(message.message_id)
    assert request.json == {
        "message_id": str(message.message_id),
        "receiver": "user-1",
        "biz_id": "",
        "template": "hook",
        "content": {"text": "hi Ada"},
    }
    assert states([message]) == ["SENT"]


def test_webhook_batch_mode_posts_many_messages_per_request(send, webhook, fake_http):
    webhook.config = {**webhook.config, "batch_size": 50}
    webhook.save()
    messages = send("hook", [f"user-{i}" for i in range(120)], {"name": "x"})

    batch_deliver([m.pk for m in messages])

    assert [len(r.json["messages"]) for r in fake_http.requests] == [50, 50, 20]
    assert set(states(messages)) == {"SENT"}


def test_transient_error_retries_with_backoff_then_succeeds(
    send, webhook, fake_http, broker, settings
):
    settings.TIDINGS_RETRY_BASE_SECONDS = 30
    answers = iter([Reply(503, {"error": "busy"}), Reply(200, {})])
    fake_http.responder = lambda request: next(answers)
    [message] = send("hook", ["user-1"], {"name": "x"})

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "RETRYING"
    assert "HTTP 503" in message.last_error
    assert message.next_attempt_at > timezone.now()
    assert broker.llen("webhook.normal") >= 1  # the retry task waits on the lane (with an ETA)

    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "SENT"
    assert message.attempts == 2
    assert trace(message) == ["ACCEPTED", "QUEUED", "SENDING", "RETRYING", "SENDING", "SENT"]


def test_retry_task_arriving_early_does_not_send(send, webhook, fake_http, settings):
    settings.TIDINGS_RETRY_BASE_SECONDS = 30
    fake_http.responder = lambda request: Reply(500, {})
    [message] = send("hook", ["user-1"], {"name": "x"})
    batch_deliver([message.pk])

    batch_deliver([message.pk])  # a duplicate of the retry task, before its time

    assert len(fake_http.requests) == 1


def test_permanent_error_fails_at_once_with_the_provider_reason(send, webhook, fake_http):
    fake_http.responder = lambda request: Reply(400, {"error": "unknown user"})
    [message] = send("hook", ["user-1"], {"name": "x"})

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "FAILED"
    assert "HTTP 400" in message.last_error and "unknown user" in message.last_error
    assert trace(message)[-1] == "FAILED"
    assert len(fake_http.requests) == 1


def test_gives_up_after_max_attempts(send, webhook, fake_http, settings):
    settings.TIDINGS_MAX_ATTEMPTS = 2
    fake_http.responder = lambda request: Reply(502, {})
    [message] = send("hook", ["user-1"], {"name": "x"})

    batch_deliver([message.pk])
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "FAILED"
    assert message.last_error.startswith("gave up after 2 attempts")


def test_timeout_is_transient(send, webhook, fake_http, settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3

    def slow(request):
        time.sleep(0.6)
        return Reply()

    fake_http.responder = slow
    [message] = send("hook", ["user-1"], {"name": "x"})

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "RETRYING"
    assert "timed out" in message.last_error


def test_rate_limit_honours_retry_after(send, webhook, fake_http):
    fake_http.responder = lambda request: Reply(429, {}, {"Retry-After": "1.5"})
    [message] = send("hook", ["user-1"], {"name": "x"})
    before = timezone.now()

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "RETRYING"
    assert message.next_attempt_at >= before + timedelta(seconds=1.5)


def test_backoff_grows_exponentially_with_jitter_and_is_capped(settings):
    settings.TIDINGS_RETRY_BASE_SECONDS = 10
    settings.TIDINGS_RETRY_MAX_SECONDS = 100
    for _ in range(50):
        assert 5 <= retry_delay(1) <= 10
        assert 20 <= retry_delay(3) <= 40
        assert 50 <= retry_delay(10) <= 100


def test_disabled_account_at_send_time_fails_permanently(send, webhook, fake_http):
    [message] = send("hook", ["user-1"], {"name": "x"})
    ChannelAccount.objects.filter(pk=webhook.pk).update(enabled=False)

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "FAILED"
    assert "disabled" in message.last_error
    assert fake_http.requests == []


def test_expired_message_is_never_sent_late(send, webhook, fake_http):
    [message] = send("hook", ["user-1"], {"name": "x"}, ttl=60)
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    batch_deliver([message.pk])

    assert states([message]) == ["EXPIRED"]
    assert trace(message)[-1] == "EXPIRED"
    assert fake_http.requests == []


def test_smtp_sends_text_and_html_parts(send, tenant, fake_smtp):
    account = ChannelAccount.objects.create(
        app=tenant,
        name="smtp",
        channel="email",
        provider="smtp",
        config={
            "host": "127.0.0.1",
            "port": fake_smtp.port,
            "from_email": "Tidings <no-reply@example.com>",
        },
    )
    MessageTemplate.objects.create(
        app=tenant,
        name="w",
        code="mail",
        channel="email",
        receiver_type="email",
        channel_account=account,
        content={"subject": "Hi {$name}", "text": "plain {$name}", "html": "<b>{$name}</b>"},
    )
    messages = send(
        "mail", ["ada@example.com", "bounce@example.com", "later@example.com"], {"name": "Ada"}
    )

    batch_deliver([m.pk for m in messages])

    assert states(messages) == ["SENT", "FAILED", "RETRYING"]
    [(rcpts, email)] = fake_smtp.messages
    assert rcpts == ["ada@example.com"]
    assert email["Subject"] == "Hi Ada"
    assert email["X-Tidings-Message-Id"] == str(messages[0].message_id)
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in email.walk()
        if not part.is_multipart()
    }
    assert parts == {"text/plain": "plain Ada", "text/html": "<b>Ada</b>"}
    assert Message.objects.get(pk=messages[0].pk).provider_message_id in email["Message-ID"]


def test_smtp_server_down_is_transient(send, tenant):
    account = ChannelAccount.objects.create(
        app=tenant,
        name="smtp",
        channel="email",
        provider="smtp",
        config={"host": "127.0.0.1", "port": 1, "from_email": "a@example.com"},
    )
    MessageTemplate.objects.create(
        app=tenant,
        name="w",
        code="mail",
        channel="email",
        receiver_type="email",
        channel_account=account,
        content={"subject": "s", "text": "t"},
    )
    [message] = send("mail", ["ada@example.com"])

    batch_deliver([message.pk])

    assert states([message]) == ["RETRYING"]


def test_sweeper_requeues_messages_the_broker_lost(
    send, email_template, broker, settings, django_capture_on_commit_callbacks
):
    settings.TIDINGS_STUCK_AFTER_SECONDS = 60
    send("welcome", ["a@example.com", "b@example.com"], {"name": "x", "code": "1"})
    broker.flushdb()  # the broker lost its data
    assert messages_requeue_stuck() == 0  # not stuck yet

    Message.objects.update(updated_at=timezone.now() - timedelta(seconds=120))
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 2

    assert broker.llen("email.normal") == 1
    assert messages_requeue_stuck() == 0  # re-enqueued once, not every sweep


def test_sweeper_requeues_messages_whose_worker_died_mid_send(
    send, email_template, broker, django_capture_on_commit_callbacks
):
    [message] = send("welcome", ["a@example.com"], {"name": "x", "code": "1"})
    Message.objects.filter(pk=message.pk).update(
        state="SENDING",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    # its worker wrote the dispatch (the step before the provider call), then died
    MessageEvent.objects.create(
        message=message, state="SENDING", at=timezone.now(), detail="attempt 1 via x"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 1
    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "SENT"
    reclaimed = message.events.filter(detail__contains="may have reached the provider")
    assert reclaimed.exists()
