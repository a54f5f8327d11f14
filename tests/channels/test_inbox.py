from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from channels_app.inbox import inbox_token_issue
from channels_app.models import ChannelAccount, InboxItem
from notify.delivery import batch_deliver
from notify.services import app_create
from templates_app.models import MessageTemplate
from tracking.models import Message


@pytest.fixture
def inbox_template(tenant):
    account = ChannelAccount.objects.create(
        app=tenant, name="inbox", channel="inbox", provider="inbox"
    )
    return MessageTemplate.objects.create(
        app=tenant,
        name="inbox",
        code="inbox",
        channel="inbox",
        receiver_type="user_id",
        content={"title": "Hi {$name}", "body": "Welcome, {$name}", "data": {"link": "/a"}},
        channel_account=account,
    )


@pytest.fixture
def delivered(send, inbox_template):
    # Different content each: identical content to one receiver is deduplicated by a rule.
    messages = send("inbox", ["ann", "bob"], {"name": "Ann"}) + send(
        "inbox", ["ann"], {"name": "A"}
    )
    batch_deliver([m.pk for m in messages])
    return messages


def _user(api, user_id: str) -> APIClient:
    response = api.post("/api/v1/inbox-tokens", {"user_id": user_id}, format="json")
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return client


def test_the_provider_stores_items_and_a_resend_changes_nothing(delivered, inbox_template):
    assert set(Message.objects.values_list("state", flat=True)) == {"SENT"}
    assert InboxItem.objects.filter(user_id="ann").count() == 2
    item = InboxItem.objects.filter(user_id="bob").get()
    assert (item.title, item.body, item.data) == ("Hi Ann", "Welcome, Ann", {"link": "/a"})
    from channels_app.providers.base import OutboundMessage
    from channels_app.providers.inbox.adapter import InboxAdapter

    message = item.message
    again = OutboundMessage(
        id=message.pk, message_id=str(message.message_id), receiver="bob", content=message.content
    )
    [result] = InboxAdapter({}, account_id=inbox_template.channel_account_id).send([again])
    assert result.provider_message_id == str(message.message_id)
    assert InboxItem.objects.filter(user_id="bob").count() == 1


def test_list_count_and_cursor_pagination(api, delivered):
    ann = _user(api, "ann")

    first = ann.get("/api/v1/inbox/messages?limit=1").json()
    second = ann.get(first["next"]).json()

    assert [i["body"] for i in first["results"]] == ["Welcome, A"]  # newest first
    assert first["results"][0]["read"] is False
    assert second["next"] is None and len(second["results"]) == 1
    assert first["results"][0]["message_id"] != second["results"][0]["message_id"]
    assert ann.get("/api/v1/inbox/unread-count").json() == {"unread": 2}
    assert _user(api, "bob").get("/api/v1/inbox/unread-count").json() == {"unread": 1}


def test_mark_read_records_read_in_the_trace(api, delivered):
    ann = _user(api, "ann")
    newest = ann.get("/api/v1/inbox/messages").json()["results"][0]["message_id"]

    response = ann.post(f"/api/v1/inbox/messages/{newest}/read")
    again = ann.post(f"/api/v1/inbox/messages/{newest}/read")

    assert response.json() == {"marked": 1} and again.json() == {"marked": 0}
    message = Message.objects.get(message_id=newest)
    assert message.state == "READ"
    assert message.events.filter(state="READ", detail="read in inbox").count() == 1
    assert ann.get("/api/v1/inbox/unread-count").json() == {"unread": 1}
    unread = ann.get("/api/v1/inbox/messages?unread=true").json()["results"]
    assert [i["message_id"] for i in unread] != [newest] and len(unread) == 1

    assert ann.post("/api/v1/inbox/read-all").json() == {"marked": 1}
    assert ann.get("/api/v1/inbox/unread-count").json() == {"unread": 0}
    assert Message.objects.filter(receiver="ann", state="READ").count() == 2
    assert Message.objects.get(receiver="bob").state == "SENT"


def test_a_user_cannot_read_or_mark_another_users_items(api, delivered):
    bob_item = InboxItem.objects.get(user_id="bob").message.message_id
    ann = _user(api, "ann")

    assert ann.post(f"/api/v1/inbox/messages/{bob_item}/read").status_code == 404
    assert Message.objects.get(receiver="bob").state == "SENT"


def test_tokens_are_per_app_signed_and_expire(api, tenant, delivered):
    other_app, _ = app_create("other")
    other_token, _ = inbox_token_issue(other_app, "ann")
    own_token, _ = inbox_token_issue(tenant, "ann")
    app_id, _, signed = own_token.partition(".")
    expired, _ = inbox_token_issue(tenant, "ann", ttl_seconds=1)
    time.sleep(1.1)

    def status(token: str) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.get("/api/v1/inbox/unread-count").status_code

    assert status(own_token) == 200
    assert APIClient().get("/api/v1/inbox/unread-count").status_code == 401
    assert status(f"{other_app.pk}.{signed}") == 401  # signed for another App
    assert status(own_token + "x") == 401
    assert status(expired) == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    assert client.get("/api/v1/inbox/unread-count").json() == {"unread": 0}


def test_token_api_needs_the_app_key_and_a_user_id(api):
    assert (
        APIClient().post("/api/v1/inbox-tokens", {"user_id": "x"}, format="json").status_code == 401
    )
    response = api.post("/api/v1/inbox-tokens", {}, format="json")
    assert response.status_code == 400
    assert "user_id" in response.json()["fields"]
    response = api.post("/api/v1/inbox-tokens", {"user_id": "x", "ttl": 10**9}, format="json")
    assert "ttl" in response.json()["fields"]


def test_inbox_content_is_validated_when_the_template_is_saved(api, tenant):
    ChannelAccount.objects.create(app=tenant, name="inbox", channel="inbox", provider="inbox")
    response = api.post(
        "/api/v1/templates",
        {
            "name": "x",
            "code": "x",
            "channel": "inbox",
            "receiver_type": "user_id",
            "content": {"title": "no body", "data": []},
        },
        format="json",
    )

    assert response.status_code == 400
    assert {"content.body", "content.data"} <= set(response.json()["fields"])
