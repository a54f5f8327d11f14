from __future__ import annotations

import uuid

from notify.services import app_create


def _send(api, receivers, biz=""):
    return api.post(
        "/api/v1/send",
        {
            "template": "welcome",
            "messages": [
                {"receiver": r, "variables": {"name": "n", "code": "1"}, "biz_id": biz}
                for r in receivers
            ],
        },
        format="json",
    ).json()


def test_get_message_shows_state_content_and_ordered_events(api, email_template):
    sent = _send(api, ["ada@example.com"])
    message_id = sent["messages"][0]["message_id"]

    body = api.get(f"/api/v1/messages/{message_id}").json()

    assert body["message_id"] == message_id
    assert body["receiver"] == "ada@example.com"
    assert body["template"] == "welcome"
    assert body["content"]["subject"] == "Hi n"
    assert body["state"] == "QUEUED"
    assert [e["state"] for e in body["events"]][0] == "ACCEPTED"


def test_unknown_malformed_and_foreign_message_ids_are_404(api, email_template, client):
    sent = _send(api, ["ada@example.com"])
    assert api.get(f"/api/v1/messages/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/messages/not-a-uuid").status_code == 404

    _, other_key = app_create("other")
    foreign = client.get(
        f"/api/v1/messages/{sent['messages'][0]['message_id']}",
        HTTP_AUTHORIZATION=f"Api-Key {other_key}",
    )
    assert foreign.status_code == 404


def test_list_filters_and_cursor_pagination(api, email_template):
    first = _send(api, ["a@example.com", "b@example.com"], biz="b1")
    _send(api, ["a@example.com"], biz="b2")

    by_receiver = api.get("/api/v1/messages", {"receiver": "a@example.com"}).json()["results"]
    assert len(by_receiver) == 2
    by_request = api.get("/api/v1/messages", {"request_id": first["request_id"]}).json()["results"]
    assert {m["receiver"] for m in by_request} == {"a@example.com", "b@example.com"}
    assert len(api.get("/api/v1/messages", {"biz_id": "b2"}).json()["results"]) == 1
    assert (
        len(
            api.get("/api/v1/messages", {"template": "welcome", "state": "QUEUED"}).json()[
                "results"
            ]
        )
        == 3
    )
    assert (
        api.get("/api/v1/messages", {"created_after": "2999-01-01T00:00:00Z"}).json()["results"]
        == []
    )

    page1 = api.get("/api/v1/messages", {"page_size": 2}).json()
    assert len(page1["results"]) == 2
    page2 = api.get(page1["next"]).json()
    assert len(page2["results"]) == 1
    ids = {m["message_id"] for m in page1["results"] + page2["results"]}
    assert len(ids) == 3


def test_list_rejects_a_bad_filter_value(api, email_template):
    response = api.get("/api/v1/messages", {"state": "NOPE"})
    assert response.status_code == 400
    assert "state" in response.json()["fields"]
