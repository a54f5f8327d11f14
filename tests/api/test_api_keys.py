"""Scoped API keys: `send` keys send and read their messages, `manage` keys do everything;
keys are issued by create_app / create_api_key / POST /api/v1/api-keys and revocable."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from notify.models import ApiKey
from notify.services import api_key_create

MANAGE_ONLY = [
    ("get", "/api/v1/templates"),
    ("post", "/api/v1/templates"),
    ("get", "/api/v1/channel-accounts"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys"),
    ("get", "/api/v1/rule-settings"),
    ("get", "/api/v1/sensitive-words"),
    ("get", "/api/v1/profiles"),
    ("get", "/api/v1/campaigns"),
    ("get", "/api/v1/user-groups"),
    ("get", "/api/v1/callback"),
    ("get", "/api/v1/receipt-urls"),
]


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def send_api(tenant) -> APIClient:
    return client_for(api_key_create(tenant, name="sender", scopes=["send"]))


@pytest.mark.parametrize(("method", "path"), MANAGE_ONLY)
def test_send_only_key_gets_json_403_on_management_endpoints(send_api, method, path):
    response = getattr(send_api, method)(path, {}, format="json")

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert "manage" in response.json()["message"]


def test_send_only_key_sends_and_reads_its_messages(send_api, email_template):
    response = send_api.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": ["ada@example.com"], "variables": {"name": "A", "code": "1"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202
    message_id = response.json()["messages"][0]["message_id"]

    assert send_api.get("/api/v1/messages").status_code == 200
    assert send_api.get(f"/api/v1/messages/{message_id}").status_code == 200
    assert send_api.get("/api/v1/receivers/ada@example.com/messages").status_code == 200
    assert send_api.get("/api/v1/stats").status_code == 200


def test_first_key_of_an_app_manages(api):
    assert api.get("/api/v1/templates").status_code == 200
    assert api.get("/api/v1/api-keys").status_code == 200


def test_api_keys_endpoint_issues_lists_and_revokes(api, tenant):
    created = api.post(
        "/api/v1/api-keys", {"name": "ci", "scopes": ["send"]}, format="json"
    )  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    assert body["scopes"] == ["send"] and body["name"] == "ci"
    new_key = body["key"]
    assert new_key.startswith(body["prefix"] + ".")
    assert client_for(new_key).get("/api/v1/messages").status_code == 200

    listed = api.get("/api/v1/api-keys").json()["results"]
    assert [k["name"] for k in listed] == ["default", "ci"]
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert new_key not in api.get("/api/v1/api-keys").content.decode()

    assert api.delete(f"/api/v1/api-keys/{body['id']}").status_code == 204
    assert ApiKey.objects.get(pk=body["id"]).revoked_at is not None
    assert client_for(new_key).get("/api/v1/messages").status_code == 401


def test_api_keys_endpoint_refuses_unknown_scopes_naming_the_field(api):
    response = api.post("/api/v1/api-keys", {"name": "x", "scopes": ["root"]}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"scopes[0]": ['"root" is not a valid choice.']}


def test_an_app_cannot_see_or_revoke_another_apps_keys(api, db):
    from notify.services import app_create

    other, _ = app_create("other")
    theirs = ApiKey.objects.get(app=other)

    assert api.delete(f"/api/v1/api-keys/{theirs.pk}").status_code == 404
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_create_api_key_command_prints_a_working_scoped_key(tenant):
    out = io.StringIO()
    call_command("create_api_key", "acme", "--scopes", "send", "--name", "worker", stdout=out)

    key = out.getvalue().strip().splitlines()[-1].rsplit(" ", 1)[-1]
    row = ApiKey.objects.get(app=tenant, name="worker")
    assert row.scopes == ["send"]
    assert client_for(key).get("/api/v1/messages").status_code == 200
    assert client_for(key).get("/api/v1/templates").status_code == 403


def test_create_api_key_command_refuses_unknown_scopes_and_apps(tenant):
    with pytest.raises(CommandError, match="unknown scope"):
        call_command("create_api_key", "acme", "--scopes", "send,admin", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no App"):
        call_command("create_api_key", "nope", "--scopes", "send", stdout=io.StringIO())


def test_create_app_issues_a_manage_key(db):
    out = io.StringIO()
    call_command("create_app", "shop", stdout=out)

    key = out.getvalue().strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert ApiKey.objects.get(app__name="shop").scopes == ["manage"]
    assert client_for(key).get("/api/v1/templates").status_code == 200


def test_admin_shows_scopes_and_last_use(admin_client, api, tenant):
    api.get("/api/v1/api-keys")  # sets last_used_at
    page = admin_client.get("/admin/notify/apikey/").content.decode()

    assert "manage" in page
    assert ApiKey.objects.get(app=tenant).last_used_at is not None


# Views under /api/v1/ that are not App-key views, each with the reason.
NOT_APP_KEY_VIEWS = {
    "UnsubscribeView": "public: the signed token in the link is the credential",
    "CampaignDecisionView": "staff users only (checked in the view), never an App key",
    "InboxListView": "end-user inbox token",
    "InboxUnreadCountView": "end-user inbox token",
    "InboxMarkReadView": "end-user inbox token",
    "InboxMarkAllReadView": "end-user inbox token",
}
# Views a `send` key may use; every other App-key view needs `manage`.
SEND_VIEWS = {
    "SendView", "MessageViewSet", "ReceiverMessagesView", "RequestRecallView", "StatsView",
    "RequestCancelView", "InboxTokenView",
}  # fmt: skip


def _api_views():
    from django.urls import URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    for route, callback in walk(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if route.startswith("api/v1/") and view is not None:
            yield route, view


def test_every_app_key_view_checks_scopes():
    from notify.authentication import HasScope, required_scope

    seen = set()
    for route, view in _api_views():
        name = view.__name__
        seen.add(name)
        if name in NOT_APP_KEY_VIEWS:
            continue
        assert HasScope in view.permission_classes, (route, name)
        expected = "send" if name in SEND_VIEWS else "manage"
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            assert required_scope(view, method) == expected, (route, name, method)
    assert SEND_VIEWS <= seen
