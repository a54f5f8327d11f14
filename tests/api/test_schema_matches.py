"""The schema says what the API answers (issue 10, finding 8): paginated lists are pages,
`resent_from` may be null, preferences are preferences, times have no offset."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    import json

    path = tmp_path_factory.mktemp("openapi") / "schema.json"
    call_command("spectacular", "--fail-on-warn", "--format", "openapi-json", "--file", str(path))
    return json.loads(path.read_text())


def _ok_schema(schema, path, method="get"):
    ref = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]


@pytest.mark.parametrize(
    "path", ["/api/v1/campaigns/", "/api/v1/user-groups/", "/api/v1/user-groups/{id}/members/"]
)
def test_paginated_lists_are_documented_as_pages(schema, path, api):
    documented = _ok_schema(schema, path)
    assert documented["type"] == "object"
    assert {"count", "results"} <= set(documented["properties"])

    if "{id}" not in path:
        assert {"count", "results"} <= set(api.get(path).json())


def test_resent_from_is_nullable(schema):
    for name in ("MessageTrace", "MessageDetail"):
        assert schema["components"]["schemas"][name]["properties"]["resent_from"]["nullable"]


def test_preferences_are_documented_as_preferences(schema):
    for method in ("get", "put"):
        documented = _ok_schema(schema, "/api/v1/profiles/{external_id}/preferences/", method)
        assert set(documented["properties"]) == {"external_id", "opt_outs"}


def test_rule_setting_times_match_what_the_api_answers(schema, api: APIClient):
    quiet_start = schema["components"]["schemas"]["RuleSettings"]["properties"]["quiet_start"]
    answered = api.get("/api/v1/rule-settings").json()["quiet_start"]

    assert quiet_start.get("format") != "time"  # RFC 3339 full-time needs an offset
    assert re.match(quiet_start["pattern"], answered)
