"""clients/python (tidings_client): every call it makes exists in /api/schema/ with the
fields it sends, and against a live server with a real worker it sends, reads, waits and
raises typed errors carrying the field errors."""

from __future__ import annotations

import pytest
from django.test import Client
from tidings_client import (
    ENDPOINTS,
    AuthError,
    NotFound,
    Tidings,
    UnexpectedState,
    ValidationError,
)

from tests.e2e.conftest import start_worker  # noqa: F401 - the real-worker fixture

# What the client puts in a send body (send() and send_batch() and their options).
SEND_FIELDS = {"template", "receivers", "variables", "messages", "priority", "ttl", "send_at"}
SEND_ITEM_FIELDS = {"receiver", "variables", "biz_id"}
REPLAY_FIELDS = {"template", "channel", "account", "state", "since", "until", "error_code", "dry_run"}  # fmt: skip


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _request_props(schema: dict, operation: dict) -> dict:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]


def test_every_call_of_the_client_is_in_the_schema(schema):
    for name, (method, path) in ENDPOINTS.items():
        if name == "replay" and path not in schema["paths"]:
            continue  # checked by the next test once the endpoint exists
        assert method in schema["paths"][path], (name, method, path)

    send = _request_props(schema, schema["paths"]["/api/v1/send"]["post"])
    assert SEND_FIELDS <= set(send), SEND_FIELDS - set(send)
    item = schema["components"]["schemas"][send["messages"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert SEND_ITEM_FIELDS <= set(item["properties"])
    message = schema["paths"]["/api/v1/messages/{message_id}/"]["get"]["responses"]["200"]
    detail = message["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"state", "events"} <= set(schema["components"]["schemas"][detail]["properties"])


def test_replay_call_matches_the_schema(schema):
    method, path = ENDPOINTS["replay"]
    # The API takes both forms of the path; the schema lists the one with the slash.
    documented = path if path in schema["paths"] else f"{path}/"
    assert documented in schema["paths"], path
    props = _request_props(schema, schema["paths"][documented][method])
    assert REPLAY_FIELDS <= set(props), REPLAY_FIELDS - set(props)


@pytest.fixture
def tidings(live_server, app_and_key, email_template, start_worker):  # noqa: F811
    start_worker()
    return Tidings(live_server.url, app_and_key[1], timeout=10)


def test_send_wait_and_typed_errors_against_a_live_server(tidings, live_server):
    one = tidings.send("welcome", "grace@example.com", {"name": "Grace", "code": "1"})
    batch = tidings.send_batch(
        "welcome",
        [
            {"receiver": "linus@example.com", "variables": {"name": "Linus", "code": "2"}},
            {"receiver": "ken@example.com", "variables": {"name": "Ken", "code": "3"}, "biz_id": "k-1"},
        ],
        priority="high",
        idempotency_key="batch-1",
    )  # fmt: skip

    assert one.accepted == 1 and batch.accepted == 2
    for message_id in one.message_ids + batch.message_ids:
        done = tidings.wait_for(message_id, "SENT", timeout=60)
        assert "SENT" in [event["state"] for event in done["events"]]
    assert tidings.message(batch.message_ids[1])["biz_id"] == "k-1"

    # The same content again is dropped by content dedup: wait_for says so, with the reason.
    again = tidings.send("welcome", "grace@example.com", {"name": "Grace", "code": "1"})
    with pytest.raises(UnexpectedState) as dropped:
        tidings.wait_for(again.message_ids[0], "SENT", timeout=60)
    assert dropped.value.state == "DEDUP_CONTENT" and "same content" in str(dropped.value)

    with pytest.raises(ValidationError) as invalid:
        tidings.send_batch("welcome", [{"receiver": "x@example.com", "variables": {}}])
    assert invalid.value.status == 400 and invalid.value.code == "invalid_request"
    assert "missing variables" in invalid.value.fields["messages[0].variables"][0]
    with pytest.raises(NotFound):
        tidings.message("01890000-0000-7000-8000-000000000000")
    with pytest.raises(AuthError):
        Tidings(live_server.url, "nope.nope").message(one.message_ids[0])
