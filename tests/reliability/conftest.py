from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.e2e.conftest import start_worker  # noqa: F401 - the real-worker fixture, shared
from tracking.models import Message


@pytest.fixture(autouse=True)
def _clean_redis():
    """Breaker keys live in REDIS_URL's database, which the cache shares."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def send(api, broker):
    def _send(template: str, receivers: list[str], **extra) -> list[Message]:
        response = api.post(
            "/api/v1/send",
            {"template": template, "receivers": receivers, "variables": {"name": "x"}, **extra},
            format="json",
        )
        assert response.status_code == 202, response.content
        ids = [m["message_id"] for m in response.json()["messages"]]
        return list(Message.objects.filter(message_id__in=ids).order_by("id"))

    return _send
