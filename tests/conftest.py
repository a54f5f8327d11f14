from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.test.testcases import QuietWSGIRequestHandler
from django.utils import timezone
from rest_framework.test import APIClient

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.smtp.fake import FakeSMTPServer
from notify.brokers import broker_kind, broker_ping
from notify.models import SendRequest
from notify.services import app_create
from templates_app.models import MessageTemplate
from tests.broker import broker_client, rabbitmq_vhost_create, rabbitmq_vhost_delete
from tracking.models import CallbackEndpoint, Message

# pytest-django's live_server answers in several writes; with Nagle on, each answer would
# wait 40 ms for the client's delayed ACK (gunicorn, the real server, turns it off too).
QuietWSGIRequestHandler.disable_nagle_algorithm = True


@pytest.fixture
def app_and_key(db):
    return app_create("acme")


@pytest.fixture
def tenant(app_and_key):
    return app_and_key[0]


@pytest.fixture
def api(app_and_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {app_and_key[1]}")
    return client


@pytest.fixture
def fake_http():
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def fake_smtp():
    with FakeSMTPServer() as server:
        yield server


@pytest.fixture
def sandbox_account(tenant):
    return ChannelAccount.objects.create(
        app=tenant, name="sandbox-email", channel="email", provider="sandbox"
    )


@pytest.fixture
def webhook(tenant, fake_http) -> ChannelAccount:
    """A signed-webhook account and template (`hook`) against the local fake server."""
    account = ChannelAccount.objects.create(
        app=tenant,
        name="hook",
        channel="webhook",
        provider="webhook",
        config={"url": fake_http.url + "/hook", "secret": "s3cret"},
    )
    MessageTemplate.objects.create(
        app=tenant,
        name="h",
        code="hook",
        channel="webhook",
        receiver_type="user_id",
        content={"text": "hi {$name}"},
        channel_account=account,
    )
    return account


@pytest.fixture
def sent_message(tenant):
    """Makes a message of `account` already SENT with a provider id (receipt tests)."""

    def make(account, receiver: str, provider_id: str, state: str = "SENT") -> Message:
        template, _ = MessageTemplate.objects.get_or_create(
            app=tenant,
            code=f"t-{account.provider}",
            defaults={
                "name": "t",
                "channel": account.channel,
                "receiver_type": "any",
                "content": {"text": "x"},
            },
        )
        request = SendRequest.objects.create(app=tenant, template=template, priority="normal")
        now = timezone.now()
        return Message.objects.create(
            app=tenant, request=request, template=template, channel=account.channel,
            account=account, receiver=receiver, content={}, priority="normal", state=state,
            provider_message_id=provider_id, created_at=now, updated_at=now, sent_at=now,
        )  # fmt: skip

    return make


@pytest.fixture
def with_callback(tenant):
    """A status callback endpoint for the App: tests check nothing is queued to it."""
    CallbackEndpoint.objects.create(
        app=tenant, url="https://hooks.example.com/tidings", secret="s" * 32
    )


@pytest.fixture
def email_template(tenant, sandbox_account):
    return MessageTemplate.objects.create(
        app=tenant,
        name="Welcome",
        code="welcome",
        channel="email",
        receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Hello {$name}, code {$code}"},
    )


@pytest.fixture(scope="session", autouse=True)
def _test_broker_ready():
    """On RabbitMQ: the run's own vhost exists, and the broker answers (else the run stops:
    an error in CI, a notice elsewhere)."""
    if broker_kind() != "amqp":
        yield
        return
    problem = rabbitmq_vhost_create()
    if problem is None:
        try:
            broker_ping(5)
        except Exception as exc:  # noqa: BLE001
            problem = f"RabbitMQ is not reachable at {settings.CELERY_BROKER_URL}: {exc}"
    if problem:
        pytest.exit(problem, returncode=1 if os.environ.get("CI") else 0)
    yield
    rabbitmq_vhost_delete()


@pytest.fixture
def broker():
    """The test broker (Redis database or RabbitMQ vhost), emptied before and after the test."""
    client = broker_client()
    client.flushdb()
    yield client
    client.flushdb()
