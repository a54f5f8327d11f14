"""Docs that cannot drift: the API reference is the schema's, and docs/api.md's campaign
example is accepted by the server as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

from channels_app.providers.reference import channels_reference
from notify.management.commands.api_reference import api_reference

ROOT = Path(__file__).resolve().parent.parent


def test_api_reference_is_generated_from_the_current_schema():
    committed = (ROOT / "docs" / "api-reference.md").read_text()

    assert committed == api_reference(), (
        "docs/api-reference.md is stale: run "
        "`python manage.py api_reference > docs/api-reference.md` and commit it"
    )


def test_channels_md_provider_sections_are_generated_from_the_provider_folders():
    committed = (ROOT / "docs" / "channels.md").read_text()

    assert committed == channels_reference(committed), (
        "docs/channels.md is stale: run `python manage.py channels_reference` and commit it"
    )


def _json_blocks(path: Path) -> list[str]:
    return re.findall(r"```json\n(.*?)```", path.read_text(), re.S)


def test_api_md_campaign_example_is_accepted(api, tenant, sandbox_account):
    from templates_app.models import MessageTemplate

    MessageTemplate.objects.create(
        app=tenant, name="Promo", code="promo", channel="email", receiver_type="email",
        content={"subject": "Hi", "text": "Your code {$code}"},
    )  # fmt: skip
    example = next(
        b for b in _json_blocks(ROOT / "docs" / "api.md") if '"audience"' in b and '"schedule"' in b
    )
    body = json.loads(example)

    response = api.post("/api/v1/campaigns", body, format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["audience"]["type"] == "list" and created["audience"]["size"] == 2
    assert created["schedule"]["type"] == "at"
    assert created["schedule"]["send_at"].startswith("2026-12-01T01:00:00")


def test_api_md_says_send_at_and_the_audience_shape():
    text = (ROOT / "docs" / "api.md").read_text()

    assert "run_at" not in text
    assert '{"type": "list", "receivers": [' in text
    assert "an 12-hex" not in (ROOT / "docs" / "architecture.md").read_text()
