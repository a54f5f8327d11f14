"""API -> PostgreSQL -> Redis broker -> real Celery worker -> local provider -> traced state."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import Reply
from notify.sweeper import messages_requeue_stuck
from templates_app.models import MessageTemplate
from tests.e2e.conftest import final_states, wait_until
from tracking.models import Message

pytestmark = pytest.mark.e2e


class IdempotentReceiver:
    """A webhook receiver as the docs ask receivers to be: it deduplicates on Idempotency-Key."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.raw = Counter()
        self.lock = threading.Lock()

    def __call__(self, request):
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.raw[request.headers["idempotency-key"]] += 1
        return Reply(200, {"ok": True})


def _webhook_template(tenant, url, code="hook", **config):
    account = ChannelAccount.objects.create(
        app=tenant,
        name=f"hook-{code}",
        channel="webhook",
        provider="webhook",
        config={"url": url, "secret": "s", **config},
    )
    return MessageTemplate.objects.create(
        app=tenant,
        name=code,
        code=code,
        channel="webhook",
        receiver_type="user_id",
        content={"text": "hello {$name}"},
        channel_account=account,
    )


def test_api_to_smtp_and_webhook_through_a_real_worker(
    api, tenant, fake_smtp, fake_http, start_worker
):
    smtp = ChannelAccount.objects.create(
        app=tenant,
        name="smtp",
        channel="email",
        provider="smtp",
        config={"host": "127.0.0.1", "port": fake_smtp.port, "from_email": "no-reply@example.com"},
    )
    MessageTemplate.objects.create(
        app=tenant,
        name="m",
        code="mail",
        channel="email",
        receiver_type="email",
        channel_account=smtp,
        content={"subject": "Hi {$name}", "text": "t", "html": "<p>h</p>"},
    )
    _webhook_template(tenant, fake_http.url + "/in")
    start_worker()

    mail = api.post(
        "/api/v1/send",
        {
            "template": "mail",
            "receivers": ["a@example.com", "bounce@example.com"],
            "variables": {"name": "Ada"},
        },
        format="json",
    ).json()
    hook = api.post(
        "/api/v1/send",
        {
            "template": "hook",
            "receivers": ["u1", "u2", "u3"],
            "variables": {"name": "Bo"},
            "priority": "high",
        },
        format="json",
    ).json()
    ids = [m["message_id"] for m in mail["messages"] + hook["messages"]]

    assert wait_until(
        lambda: (
            Message.objects.filter(message_id__in=ids, state__in=["SENT", "FAILED"]).count() == 5
        )
    )
    assert final_states(ids) == {"SENT": 4, "FAILED": 1}
    assert len(fake_smtp.messages) == 1
    assert sorted(r.json["receiver"] for r in fake_http.requests) == ["u1", "u2", "u3"]
    detail = api.get(f"/api/v1/messages/{hook['messages'][0]['message_id']}").json()
    assert [e["state"] for e in detail["events"]] == ["ACCEPTED", "QUEUED", "SENDING", "SENT"]
    assert detail["events"][1]["detail"] == "lane webhook.high"
    failed = Message.objects.get(receiver="bounce@example.com")
    assert "550" in failed.last_error


def test_workers_started_per_lane_only_take_their_lane(api, tenant, fake_http, start_worker):
    _webhook_template(tenant, fake_http.url + "/in")
    start_worker(queues="webhook.high")

    low = api.post(
        "/api/v1/send",
        {"template": "hook", "receivers": ["slow"], "variables": {"name": "x"}, "priority": "low"},
        format="json",
    ).json()
    high = api.post(
        "/api/v1/send",
        {"template": "hook", "receivers": ["fast"], "variables": {"name": "x"}, "priority": "high"},
        format="json",
    ).json()

    assert wait_until(
        lambda: final_states([high["messages"][0]["message_id"]]) == {"SENT": 1}, timeout=30
    )
    time.sleep(1)
    assert final_states([low["messages"][0]["message_id"]]) == {"QUEUED": 1}


def test_sigkill_mid_batch_every_message_ends_sent_exactly_once(
    api, tenant, fake_http, start_worker, settings
):
    # given a slow provider and a worker busy with batches of 50
    receiver = IdempotentReceiver(delay=0.02)
    fake_http.responder = receiver
    template = _webhook_template(tenant, fake_http.url + "/in")
    # One request in flight per process: the in-doubt bound is then one message per process
    # (tests/e2e/test_concurrent_dispatch.py checks the bound of a wide window).
    ChannelAccount.objects.filter(pk=template.channel_account_id).update(max_in_flight=1)
    lease = 3
    overrides = {"TIDINGS_BATCH_SIZE": 50, "TIDINGS_CLAIM_LEASE_SECONDS": lease}
    settings.TIDINGS_BATCH_SIZE = 50
    settings.TIDINGS_STUCK_AFTER_SECONDS = 2
    settings.TIDINGS_CLAIM_LEASE_SECONDS = lease
    worker = start_worker(**overrides)
    response = api.post(
        "/api/v1/send",
        {
            "template": "hook",
            "receivers": [f"user-{i}" for i in range(400)],
            "variables": {"name": "x"},
        },
        format="json",
    ).json()
    ids = [m["message_id"] for m in response["messages"]]

    # when the worker is SIGKILLed in the middle of a batch
    assert wait_until(lambda: sum(receiver.raw.values()) >= 60, timeout=30)
    worker.kill()
    at_kill = final_states(ids)
    assert at_kill.get("SENDING", 0) > 0, at_kill  # it really died mid-batch
    assert at_kill.get("SENT", 0) < 400

    # and a new worker plus the beat sweeper take over
    start_worker(**overrides)

    def all_sent() -> bool:
        messages_requeue_stuck()
        return final_states(ids) == {"SENT": 400}

    assert wait_until(all_sent, timeout=90, interval=1), final_states(ids)

    # then every message reached the provider, and only messages in flight at the kill
    # (whose trace says so) were delivered a second time, with the same idempotency key
    assert set(receiver.raw) == set(ids)
    duplicates = {key for key, count in receiver.raw.items() if count > 1}
    assert len(duplicates) <= 2  # at most one in-flight request per pool process
    for message_id in duplicates:
        trace = Message.objects.get(message_id=message_id).events.values_list("detail", flat=True)
        assert any("may have reached the provider" in detail for detail in trace)
    assert all(
        Message.objects.get(message_id=m).events.filter(state="SENT").count() == 1 for m in ids
    )


def test_broker_losing_its_data_loses_no_message(
    api, tenant, fake_http, start_worker, broker, settings
):
    fake_http.responder = IdempotentReceiver()
    _webhook_template(tenant, fake_http.url + "/in")
    settings.TIDINGS_STUCK_AFTER_SECONDS = 1
    response = api.post(
        "/api/v1/send",
        {
            "template": "hook",
            "receivers": [f"u{i}" for i in range(100)],
            "variables": {"name": "x"},
        },
        format="json",
    ).json()
    ids = [m["message_id"] for m in response["messages"]]
    broker.flushdb()  # e.g. Redis restarted without persistence
    start_worker()
    time.sleep(1.5)

    requeued = messages_requeue_stuck()

    assert requeued == 100
    assert wait_until(lambda: final_states(ids) == {"SENT": 100}, timeout=60)
