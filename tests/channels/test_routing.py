"""Routing and failover in-process: batch_deliver against local HTTP servers."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from channels_app.breaker import breaker_record_failure
from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.routing import _weighted_order
from notify.delivery import batch_deliver
from templates_app.models import MessageTemplate
from tracking.models import Message


@pytest.fixture
def servers():
    with (
        FakeHTTPServer() as a,
        FakeHTTPServer() as b,
    ):
        yield a, b


def _hook(tenant, name: str, server: FakeHTTPServer, **fields) -> ChannelAccount:
    return ChannelAccount.objects.create(
        app=tenant,
        name=name,
        channel="webhook",
        provider="webhook",
        config={"url": server.url + "/in"},
        **fields,
    )


def _template(tenant, code="routed", account=None, message_type="notice") -> MessageTemplate:
    return MessageTemplate.objects.create(
        app=tenant,
        name=code,
        code=code,
        channel="webhook",
        receiver_type="user_id",
        message_type=message_type,
        content={"text": "hi"},
        channel_account=account,
    )


def _sending_details(message: Message) -> list[str]:
    return list(message.events.filter(state="SENDING").values_list("detail", flat=True))


def test_weights_split_traffic_and_a_type_weight_of_zero_excludes(tenant, servers):
    a = _hook(tenant, "a", servers[0], weight=300)
    b = _hook(tenant, "b", servers[1], weight=100, type_weights={"marketing": 0})

    firsts = Counter(_weighted_order([a, b], "notice")[0].name for _ in range(4000))
    marketing = {_weighted_order([a], "marketing")[0].name for _ in range(50)}

    assert 2700 < firsts["a"] < 3300  # 3:1
    assert b.weight_for("marketing") == 0 and b.weight_for("notice") == 100
    assert marketing == {"a"}


def test_routed_messages_spread_over_accounts_and_record_the_one_used(tenant, servers, send):
    _hook(tenant, "a", servers[0], weight=1)
    b = _hook(tenant, "b", servers[1], weight=1, type_weights={"verification": 0})
    _template(tenant)
    _template(tenant, code="otp", message_type="verification")

    messages = send("routed", [f"u{i}" for i in range(60)])
    codes = send("otp", ["v1", "v2", "v3"])
    batch_deliver([m.pk for m in messages + codes])

    assert set(
        Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("state", flat=True)
    ) == {"SENT"}
    assert len(servers[0].requests) > 5 and len(servers[1].requests) > 5
    by_b = {r.json["receiver"] for r in servers[1].requests}
    assert set(Message.objects.filter(account=b).values_list("receiver", flat=True)) == by_b
    assert not by_b & {"v1", "v2", "v3"}  # b takes no verification codes
    assert "routed by weight" in _sending_details(messages[0])[0]


def test_a_pinned_template_uses_only_its_account(tenant, servers, send):
    a = _hook(tenant, "a", servers[0], weight=1)
    _hook(tenant, "b", servers[1], weight=1_000_000)
    _template(tenant, code="pinned", account=a)

    messages = send("pinned", ["u1", "u2", "u3"])
    batch_deliver([m.pk for m in messages])

    assert len(servers[0].requests) == 3 and servers[1].requests == []
    assert "routed" not in _sending_details(messages[0])[0]


def test_transient_failure_fails_over_within_the_same_attempt(tenant, servers, send):
    servers[0].responder = lambda request: Reply(502, {"error": "bad gateway"})
    a = _hook(tenant, "a", servers[0], weight=1_000_000)
    _hook(tenant, "b", servers[1], weight=1)
    _template(tenant)
    [message] = send("routed", ["u1"])

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert (message.state, message.attempts, message.account.name) == ("SENT", 1, "b")
    assert [r.json["receiver"] for r in servers[1].requests] == ["u1"]
    details = _sending_details(message)
    assert details[1] == "attempt 1 via b (webhook); failover after a"
    a.refresh_from_db()
    assert (a.consecutive_failures, a.last_success_at) == (1, None)
    assert "502" in a.last_error
    assert ChannelAccount.objects.get(name="b").last_success_at is not None


def test_permanent_failure_does_not_fail_over(tenant, servers, send):
    servers[0].responder = lambda request: Reply(400, {"error": "bad request"})
    _hook(tenant, "a", servers[0], weight=1_000_000)
    _hook(tenant, "b", servers[1], weight=1)
    _template(tenant)
    [message] = send("routed", ["u1"])

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert message.state == "FAILED"
    assert servers[1].requests == []


def test_every_account_down_schedules_one_retry(tenant, servers, send):
    for server in servers:
        server.responder = lambda request: Reply(503, {"error": "down"})
    _hook(tenant, "a", servers[0])
    _hook(tenant, "b", servers[1])
    _template(tenant)
    [message] = send("routed", ["u1"])

    batch_deliver([message.pk])

    message.refresh_from_db()
    assert (message.state, message.attempts) == ("RETRYING", 1)
    assert len(servers[0].requests) == len(servers[1].requests) == 1
    assert "503" in message.last_error


def test_open_breakers_are_skipped_and_when_all_are_open_nothing_is_called(
    tenant, servers, send, settings
):
    settings.TIDINGS_BREAKER_FAILURES = 1
    settings.TIDINGS_BREAKER_FAILURE_RATE = 0  # one failure opens it, whatever came before
    a = _hook(tenant, "a", servers[0], weight=1_000_000)
    b = _hook(tenant, "b", servers[1], weight=1)
    _template(tenant)
    breaker_record_failure(a)
    [first] = send("routed", ["u1"])

    batch_deliver([first.pk])

    assert servers[0].requests == [] and len(servers[1].requests) == 1
    assert "skipped a (circuit open)" in _sending_details(first)[0]

    breaker_record_failure(b)
    [second] = send("routed", ["u2"])
    batch_deliver([second.pk])

    # held back, not attempted: it waits for the breaker without spending an attempt
    second.refresh_from_db()
    assert (second.state, second.attempts) == ("QUEUED", 0)
    assert second.next_attempt_at > timezone.now()
    assert "circuit open for every account (a, b)" in second.last_error
    [held] = second.events.filter(state="THROTTLED").values_list("detail", flat=True)
    assert held.startswith("held: ") and "no attempt spent" in held
    assert len(servers[1].requests) == 1  # not called again


def test_disabled_accounts_are_not_routed_to(tenant, servers, send):
    a = _hook(tenant, "a", servers[0])
    _hook(tenant, "b", servers[1])
    _template(tenant)
    messages = send("routed", ["u1", "u2", "u3", "u4"])
    ChannelAccount.objects.filter(pk=a.pk).update(enabled=False)

    batch_deliver([m.pk for m in messages])

    assert servers[0].requests == [] and len(servers[1].requests) == 4


def test_type_weights_are_validated_by_the_api(api, tenant):
    response = api.post(
        "/api/v1/channel-accounts",
        {
            "name": "s",
            "channel": "email",
            "provider": "sandbox",
            "weight": 10,
            "type_weights": {"bogus": 1},
        },
        format="json",
    )

    assert response.status_code == 400
    assert "type_weights" in response.json()["fields"]


def test_the_api_shows_weights_health_and_breaker(api, tenant):
    response = api.post(
        "/api/v1/channel-accounts",
        {
            "name": "s",
            "channel": "email",
            "provider": "sandbox",
            "weight": 10,
            "type_weights": {"marketing": 0},
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    [account] = api.get("/api/v1/channel-accounts").json()["results"]

    assert account["weight"] == 10 and account["type_weights"] == {"marketing": 0}
    assert account["breaker"] == {"state": "closed", "failures": 0, "retry_in": 0.0}
    assert account["last_success_at"] is None and account["consecutive_failures"] == 0
