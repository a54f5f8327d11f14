from __future__ import annotations

import pytest
from django.conf import settings

from config.redis import get_redis
from notify.rules.config import rule_config_clear
from templates_app.models import MessageTemplate
from tracking.models import Message


def _flush_rule_keys() -> None:
    client = get_redis()
    keys = list(client.scan_iter(match=settings.TIDINGS_RULES_REDIS_PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def clean_rule_state():
    """Rule counters live in Redis and the configuration in a process cache: start empty."""
    _flush_rule_keys()
    rule_config_clear()
    yield
    _flush_rule_keys()
    rule_config_clear()


@pytest.fixture
def send(api, broker):
    def _send(template: str, receivers=None, variables=None, *, messages=None, **extra):
        body = {"template": template, **extra}
        if messages is not None:
            body["messages"] = messages
        else:
            body["receivers"] = receivers
            body["variables"] = variables or {}
        response = api.post("/api/v1/send", body, format="json")
        assert response.status_code == 202, response.content
        ids = [m["message_id"] for m in response.json()["messages"]]
        return list(Message.objects.filter(message_id__in=ids).order_by("id"))

    return _send


@pytest.fixture
def verification_template(tenant, sandbox_account):
    return MessageTemplate.objects.create(
        app=tenant,
        name="Code",
        code="code",
        channel="email",
        receiver_type="email",
        message_type="verification",
        default_priority="high",
        content={"subject": "Your code", "text": "Code {$code}"},
    )


def states(messages) -> list[str]:
    return [Message.objects.get(pk=m.pk).state for m in messages]


def trace(message) -> list[str]:
    return [e.state for e in Message.objects.get(pk=message.pk).trace_events()]


def details(message, state: str) -> list[str]:
    return list(
        Message.objects.get(pk=message.pk)
        .events.filter(state=state)
        .values_list("detail", flat=True)
    )


from tests.e2e.conftest import start_worker  # noqa: E402,F401 - real workers for test_cluster
