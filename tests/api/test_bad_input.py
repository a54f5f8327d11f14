"""Issue 10, finding 8: each input here was a 500; each must be a 4xx naming the field."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from channels_app.models import ChannelAccount
from notify.models import App
from notify.profiles import unsubscribe_token

VARS = {"name": "Ada", "code": "1"}


def send(api, body):
    return api.post("/api/v1/send", body, format="json")


def assert_names(response, status: int, field: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["fields"], response.json()


@pytest.mark.parametrize("ref", ["²", "9" * 5000, 10**30, -1, "١٢"])
def test_odd_template_refs_are_400_naming_template(api, email_template, ref):
    response = send(api, {"template": ref, "receivers": ["a@example.com"], "variables": VARS})
    assert_names(response, 400, "template")


def test_template_filter_with_a_non_ascii_digit_is_not_a_500(api, email_template):
    assert api.get("/api/v1/messages?template=²").status_code == 200
    assert api.get("/api/v1/messages?template=" + "9" * 5000).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/stats", "/api/v1/receivers/a@example.com/messages"])
@pytest.mark.parametrize("param", ["date_to", "date_from"])
def test_impossible_dates_are_400_naming_the_parameter(api, path, param):
    assert_names(api.get(f"{path}?{param}=2024-02-31"), 400, param)


@pytest.mark.parametrize(
    "value", ["0368-09-03T17:51:04+22:09", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-10:00"]
)
def test_created_after_with_far_offsets_is_not_a_500(api, value):
    from urllib.parse import quote

    response = api.get(f"/api/v1/messages?created_after={quote(value)}")
    assert response.status_code in (200, 400)
    response = api.get(f"/api/v1/receivers/a@example.com/messages?date_from={quote(value)}")
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"template": "welcome", "receivers": ["a\x00@example.com"], "variables": VARS}, "receivers[0]"),
        ({"template": "welcome", "messages": [{"receiver": "a@example.com", "variables": {**VARS, "name": "A\x00"}}]},
         "messages[0].variables.name"),
        ({"template": "welcome", "messages": [{"receiver": "a@example.com", "variables": VARS, "biz_id": "x\x00"}]},
         "messages[0].biz_id"),
        ({"template": "welcome", "receivers": ["a@example.com"], "variables": {"na\x00me": "x"}}, "variables.na\\u0000me"),
    ],
)  # fmt: skip
def test_nul_characters_in_a_send_are_400_naming_the_field(api, email_template, body, field):
    assert_names(send(api, body), 400, field)


def test_nul_characters_in_template_content_and_campaigns_are_400(api, email_template):
    template = {"name": "T", "code": "t\x00", "channel": "email", "receiver_type": "email",
                "content": {"subject": "s", "text": "a\x00b"}}  # fmt: skip
    assert_names(api.post("/api/v1/templates", template, format="json"), 400, "code")
    template["code"] = "t"
    assert_names(api.post("/api/v1/templates", template, format="json"), 400, "content.text")

    campaign = {
        "name": "c\x00",
        "template": "welcome",
        "audience": {"type": "list", "receivers": []},
    }
    assert_names(api.post("/api/v1/campaigns", campaign, format="json"), 400, "name")


def test_nul_characters_in_query_strings_and_paths_are_400(api):
    assert_names(api.get("/api/v1/messages?receiver=a%00b"), 400, "receiver")
    assert_names(api.get("/api/v1/receivers/a%00b/messages"), 400, "path")
    assert_names(api.get("/api/v1/profiles/u%00/"), 400, "path")


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_deeper_than_python_can_parse_is_400(api, depth):
    body = '{"template": "welcome", "variables": ' + "[" * depth + "]" * depth + "}"
    response = api.post("/api/v1/send", body, content_type="application/json")
    assert_names(response, 400, "request")


def test_an_inbox_token_with_a_5000_digit_prefix_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + "9" * 5000 + ".x")
    response = client.get("/api/v1/inbox/messages")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_a_channel_account_weight_beyond_integer_is_400_naming_weight(api, sandbox_account):
    response = api.patch(
        f"/api/v1/channel-accounts/{sandbox_account.pk}", {"weight": 4744171117}, format="json"
    )
    assert_names(response, 400, "weight")
    response = api.patch(
        f"/api/v1/channel-accounts/{sandbox_account.pk}",
        {"type_weights": {"notice": 4744171117}},
        format="json",
    )
    assert_names(response, 400, "type_weights")
    ChannelAccount.objects.get(pk=sandbox_account.pk)


def test_an_unsubscribe_link_of_a_deleted_app_is_400(client, db):
    app = App.objects.create(name="gone")
    token = unsubscribe_token(app.pk, "email", "ada@example.com", "notice")
    app.delete()

    assert client.post(f"/api/v1/u/{token}").status_code == 400


def test_an_api_key_with_a_huge_prefix_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key " + "9" * 5000 + ".x")
    assert client.get("/api/v1/messages").status_code == 401


def test_a_nul_in_the_body_is_named_even_in_lists(api):
    body = json.dumps({"name": "k", "scopes": ["send", "x\x00"]})
    response = api.post("/api/v1/api-keys", body, content_type="application/json")
    assert_names(response, 400, "scopes[1]")


@pytest.mark.parametrize("value", [0, 257, 70000, "many"])
def test_a_channel_account_max_in_flight_out_of_range_is_400_naming_it(api, sandbox_account, value):
    response = api.patch(
        f"/api/v1/channel-accounts/{sandbox_account.pk}", {"max_in_flight": value}, format="json"
    )
    assert_names(response, 400, "max_in_flight")
    assert ChannelAccount.objects.get(pk=sandbox_account.pk).max_in_flight == 64
    response = api.patch(
        f"/api/v1/channel-accounts/{sandbox_account.pk}", {"max_in_flight": 16}, format="json"
    )
    assert response.status_code == 200 and response.json()["max_in_flight"] == 16
