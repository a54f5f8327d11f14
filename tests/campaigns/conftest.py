from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from notify.services import app_create
from templates_app.models import MessageTemplate
from tests.e2e.conftest import start_worker  # noqa: F401 - the real-worker fixture, shared


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def promo_template(tenant, sandbox_account):
    return MessageTemplate.objects.create(
        app=tenant,
        name="Promo",
        code="promo",
        channel="email",
        receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Your code {$code}"},
    )


@pytest.fixture
def other_api(db) -> APIClient:
    _, key = app_create("other")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def staff(db):
    users = get_user_model().objects

    def make(name: str):
        return users.create_user(name, f"{name}@example.com", "pw-12345678", is_staff=True)

    return make


def csv_file(text: str, name: str = "crowd.csv") -> io.BytesIO:
    handle = io.BytesIO(text.encode())
    handle.name = name
    return handle


def crowd(rows: int, start: int = 0) -> str:
    lines = ["receiver,name,code"]
    lines += [f"user{i}@example.com,User {i},{i}" for i in range(start, start + rows)]
    return "\n".join(lines) + "\n"


def create_campaign(api, **overrides):
    body = {
        "name": "Spring sale",
        "template": "promo",
        "audience": {"type": "file"},
        **overrides,
    }
    response = api.post("/api/v1/campaigns/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def upload(api, campaign_id: int, text: str):
    return api.post(
        f"/api/v1/campaigns/{campaign_id}/audience",
        {"file": csv_file(text)},
        format="multipart",
    )
