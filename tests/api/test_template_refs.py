"""A template (or account) reference that looks numeric to Python but is no id — "²" is a
digit to str.isdigit() and int() refuses it — is just an unknown reference everywhere it is
accepted: a 4xx naming the field, or no match, never a 500."""

from __future__ import annotations

from tests.campaigns.conftest import promo_template  # noqa: F401 - the campaign fixture


def test_stats_with_a_superscript_template_is_no_match(api):
    response = api.get("/api/v1/stats", {"template": "²"})
    assert response.status_code == 200, response.content
    assert response.json()["totals"] == {}


def test_replay_filter_with_superscript_refs_matches_nothing(api):
    response = api.post(
        "/api/v1/messages/replay",
        {"template": "²", "account": "³", "dry_run": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["matched"] == 0


def test_campaign_with_a_superscript_template_names_the_field(api, promo_template):  # noqa: F811
    response = api.post(
        "/api/v1/campaigns/",
        {"name": "x", "template": "²", "audience": {"type": "file"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "template" in response.json()["fields"]
