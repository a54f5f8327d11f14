"""Per-App rate limits on Redis (429 + Retry-After), the variables size cap (413), page size
ceilings, idempotency-key reuse (422) and JSON 404/405 for every /api/ path."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from config.redis import get_redis
from notify.models import SendRequest
from notify.services import api_key_create, app_create
from notify.throttling import KEY_PREFIX
from templates_app.models import MessageTemplate

VARS = {"name": "Ada", "code": "1"}


@pytest.fixture(autouse=True)
def clean_rate_counters():
    redis = get_redis()
    for key in redis.scan_iter(f"{KEY_PREFIX}:*"):
        redis.delete(key)


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


# --- rate limits ----------------------------------------------------------------------------


@override_settings(TIDINGS_API_RATE_LIMIT="3/m")
def test_default_rate_limit_is_per_app_across_its_keys_with_retry_after(api, tenant):
    second_key = client_for(api_key_create(tenant, name="second"))
    other_app = client_for(app_create("other")[1])

    assert [api.get("/api/v1/messages").status_code for _ in range(2)] == [200, 200]
    assert second_key.get("/api/v1/messages").status_code == 200
    refused = second_key.get("/api/v1/messages")

    assert refused.status_code == 429
    assert refused.json()["error"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert api.post("/api/v1/send", {}, format="json").status_code == 429
    # Another App has its own budget.
    assert other_app.get("/api/v1/messages").status_code == 200


@override_settings(TIDINGS_API_RATE_LIMIT="1000/s")
def test_an_app_can_have_its_own_rate_limit(api, tenant):
    tenant.api_rate_limit = "2/h"
    tenant.save()

    assert [api.get("/api/v1/stats").status_code for _ in range(3)] == [200, 200, 429]


@override_settings(TIDINGS_API_RATE_LIMIT="1/m")
def test_counters_live_in_redis_so_every_process_shares_them(api, tenant):
    assert api.get("/api/v1/messages").status_code == 200
    [key] = list(get_redis().scan_iter(f"{KEY_PREFIX}:{tenant.pk}:*"))
    assert int(get_redis().get(key)) == 1
    get_redis().delete(key)  # as if the window had passed, in any process
    assert api.get("/api/v1/messages").status_code == 200


def test_app_rate_limit_is_validated(db):
    from django.core.exceptions import ValidationError

    from notify.models import App

    app = App(name="x", api_rate_limit="lots")
    with pytest.raises(ValidationError):
        app.full_clean()


# --- size of variables ----------------------------------------------------------------------


@override_settings(TIDINGS_MAX_VARIABLES_BYTES=1000)
def test_variables_over_the_cap_are_413_naming_the_field(api, email_template):
    big = {**VARS, "blob": "x" * 1000}

    shared = api.post(
        "/api/v1/send", {"template": "welcome", "receivers": ["a@example.com"], "variables": big},
        format="json",
    )  # fmt: skip
    own = api.post(
        "/api/v1/send",
        {"template": "welcome", "messages": [
            {"receiver": "a@example.com", "variables": VARS},
            {"receiver": "b@example.com", "variables": big},
        ]},
        format="json",
    )  # fmt: skip

    assert shared.status_code == 413 and "variables" in shared.json()["fields"]
    assert own.status_code == 413 and "messages[1].variables" in own.json()["fields"]
    assert not SendRequest.objects.exists()


@override_settings(TIDINGS_MAX_VARIABLES_BYTES=1000)
def test_variables_under_the_cap_are_accepted(api, email_template):
    response = api.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": ["a@example.com"], "variables": {**VARS, "x": "y" * 800}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202


def test_template_content_is_capped(api, sandbox_account):
    response = api.post(
        "/api/v1/templates",
        {"name": "Big", "code": "big", "channel": "email", "receiver_type": "email",
         "content": {"subject": "s", "text": "x" * (300 * 1024)}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400 and "content" in response.json()["fields"]


# --- page sizes -----------------------------------------------------------------------------


@override_settings(TIDINGS_API_MAX_PAGE_SIZE=2)
@pytest.mark.parametrize("limit", ["3", "1000000", "10000000000000000000", "9" * 5000])
def test_limit_is_clamped_never_a_500(api, tenant, limit):
    for n in range(3):
        MessageTemplate.objects.create(
            app=tenant, name=f"t{n}", code=f"t{n}", channel="email", receiver_type="email",
            content={"text": "x"},
        )  # fmt: skip

    response = api.get(f"/api/v1/templates?limit={limit}")

    assert response.status_code == 200
    assert len(response.json()["results"]) <= 2
    assert api.get(f"/api/v1/campaigns?limit={limit}").status_code == 200
    assert api.get(f"/api/v1/user-groups?limit={limit}&offset={limit}").status_code == 200
    assert api.get(f"/api/v1/messages?page_size={limit}").status_code == 200


def test_a_damaged_cursor_is_a_404_not_a_500(api):
    import base64

    cursor = base64.b64encode(b"p=abc").decode()
    response = api.get(f"/api/v1/messages?cursor={cursor}")
    assert response.status_code == 404


# --- idempotency ----------------------------------------------------------------------------


def test_idempotency_key_reused_with_another_body_is_422(api, email_template):
    first = {"template": "welcome", "receivers": ["a@example.com"], "variables": VARS}
    assert (
        api.post("/api/v1/send", first, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 202
    )

    other = {**first, "receivers": ["b@example.com"]}
    response = api.post("/api/v1/send", other, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert "idempotency_key" in response.json()["fields"]
    assert SendRequest.objects.count() == 1


def test_idempotency_key_with_the_same_body_replays(api, email_template):
    body = {"template": "welcome", "receivers": ["a@example.com"], "variables": VARS}
    first = api.post("/api/v1/send", {**body, "idempotency_key": "k2"}, format="json")
    # Same content, keys in another order, key in the header this time.
    reordered = {"variables": VARS, "receivers": ["a@example.com"], "template": "welcome"}
    again = api.post("/api/v1/send", reordered, format="json", HTTP_IDEMPOTENCY_KEY="k2")

    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["request_id"] == first.json()["request_id"]


# --- JSON 404 / 405 -------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v2/send", "/api/", "/api/v1/templates/1/x/y", "/api/v1/send/"]
)
def test_unknown_api_paths_are_json_404(api, settings, debug, path):
    settings.DEBUG = debug
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_wrong_methods_are_json_405(api):
    for method, path in [("get", "/api/v1/send"), ("put", "/api/v1/stats"),
                         ("delete", "/api/v1/messages"), ("post", "/api/v1/requests/"
                         "00000000-0000-0000-0000-000000000000")]:  # fmt: skip
        response = getattr(api, method)(path)
        assert response.status_code == 405, path
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == "method_not_allowed"


def test_free_form_profile_and_rule_fields_are_capped(api):
    ids = {f"k{n}": "x" for n in range(101)}
    response = api.post(
        "/api/v1/profiles", {"external_id": "u1", "channel_ids": ids}, format="json"
    )
    assert response.status_code == 400 and "channel_ids" in response.json()["fields"]

    response = api.patch("/api/v1/rule-settings", {"whitelist": ["a"] * 10_001}, format="json")
    assert response.status_code == 400 and "whitelist" in response.json()["fields"]
