"""PostgreSQL down: every API answer is a JSON 503 with Retry-After (never Django's HTML
"Server Error (500)"), and the readiness endpoint says the database is down.

The database is made unreachable at the connection level: the test's connection is closed
and pointed at a local port nothing listens on, so the next query really fails to connect
(connection refused), exactly as when PostgreSQL is stopped."""

from __future__ import annotations

import json
import socket

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from notify.errors import server_error

pytestmark = pytest.mark.broker  # readiness checks the broker: run on RabbitMQ too


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_database(transactional_db, app_and_key):
    """The API key exists; then the database goes away until the test ends."""
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    yield app_and_key[1]
    connection.close()
    connection.settings_dict.update(saved)


def _assert_json_503(response) -> dict:
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == "service_unavailable"
    assert "database" in body["message"]
    return body


def test_send_with_the_database_down_is_a_json_503(dead_database):
    client = Client(raise_request_exception=False)
    response = client.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": ["a@example.com"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {dead_database}",
    )

    _assert_json_503(response)


def test_reads_with_the_database_down_are_json_503(dead_database):
    client = Client(raise_request_exception=False)
    for path in ("/api/v1/messages/123", "/api/v1/stats", "/api/v1/templates"):
        response = client.get(path, HTTP_AUTHORIZATION=f"Api-Key {dead_database}")
        _assert_json_503(response)


def test_plain_django_views_with_the_database_down_answer_503_not_500(dead_database):
    # A click redirect is a plain Django view (not DRF) that reads the database.
    response = Client(raise_request_exception=False).get("/t/some-token")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert b"Server Error" not in response.content


def test_readiness_reports_the_database_down_and_liveness_stays_up(dead_database):
    client = Client(raise_request_exception=False)

    ready = client.get("/healthz/ready")
    alias = client.get("/healthz")
    live = client.get("/healthz/live")

    assert ready.status_code == 503
    assert int(ready["Retry-After"]) > 0
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert alias.status_code == 503
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}


def test_readiness_is_ok_when_everything_answers(db):
    response = Client().get("/healthz/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "redis": "ok",
    }


def test_handler500_is_json_under_api_and_503_for_a_dead_dependency():
    request = RequestFactory().get("/api/v1/anything")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        crashed = server_error(request)
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        unavailable = server_error(request)

    assert crashed.status_code == 500
    assert crashed["Content-Type"] == "application/json"
    assert json.loads(crashed.content)["error"] == "server_error"
    assert unavailable.status_code == 503
    assert json.loads(unavailable.content)["error"] == "service_unavailable"
    assert "Retry-After" in unavailable
