from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from channels_app.models import ChannelAccount
from notify.services import app_create
from templates_app.models import MessageTemplate
from tests.fakes.http import FakeHTTPServer
from tests.fakes.smtp import FakeSMTPServer


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
def email_template(tenant, sandbox_account):
    return MessageTemplate.objects.create(
        app=tenant,
        name="Welcome",
        code="welcome",
        channel="email",
        receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Hello {$name}, code {$code}"},
    )


@pytest.fixture
def broker():
    """The test broker's Redis database, emptied before and after the test."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
