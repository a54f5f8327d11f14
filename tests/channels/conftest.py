from __future__ import annotations

import pytest
from django.core.cache import cache

from tracking.models import Message


@pytest.fixture(autouse=True)
def _clean_redis():
    """Breaker keys live in REDIS_URL's database, which the cache shares."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def send(api, broker):
    def _send(template: str, receivers: list[str], variables: dict | None = None) -> list[Message]:
        response = api.post(
            "/api/v1/send",
            {"template": template, "receivers": receivers, "variables": variables or {}},
            format="json",
        )
        assert response.status_code == 202, response.content
        ids = [m["message_id"] for m in response.json()["messages"]]
        return list(Message.objects.filter(message_id__in=ids).order_by("id"))

    return _send
