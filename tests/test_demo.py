"""`make run`'s demo key survives restarts: kept in var/, re-used while valid, replaced
only when missing or revoked. And the API docs pages load nothing from a CDN."""

from __future__ import annotations

import stat

from django.test import Client

from notify.demo import demo_setup
from notify.models import ApiKey
from notify.services import api_key_revoke


def _works(key: str) -> bool:
    response = Client().get("/api/v1/messages", HTTP_AUTHORIZATION=f"Api-Key {key}")
    return response.status_code == 200


def test_demo_key_is_kept_until_revoked_or_lost(db, tmp_path):
    key_file = tmp_path / "var" / "demo-api-key"

    first = demo_setup(key_file=key_file)
    second = demo_setup(key_file=key_file)

    assert first["api_key_created"] and not second["api_key_created"]
    assert second["api_key"] == first["api_key"] and _works(first["api_key"])
    assert key_file.read_text().strip() == first["api_key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    api_key_revoke(ApiKey.objects.get(prefix=first["api_key"].split(".")[0]))
    third = demo_setup(key_file=key_file)
    assert third["api_key_created"] and third["api_key"] != first["api_key"]
    assert _works(third["api_key"]) and key_file.read_text().strip() == third["api_key"]

    key_file.unlink()
    fourth = demo_setup(key_file=key_file)
    assert fourth["api_key"] != third["api_key"] and _works(fourth["api_key"])
    assert _works(third["api_key"])  # an older key someone may hold is not revoked


def test_api_docs_pages_use_our_static_files(db):
    for path, asset in (("/api/docs/", "swagger-ui-dist"), ("/api/redoc/", "redoc")):
        page = Client().get(path)
        html = page.content.decode()

        assert page.status_code == 200
        assert f"/static/drf_spectacular_sidecar/{asset}" in html, html
        assert "cdn" not in html.lower()
