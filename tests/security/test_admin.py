"""Admin brute force: django-axes locks a username + IP out after 5 failures; the campaign
decision endpoint takes an admin session with CSRF only, never HTTP Basic."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from notify.actors import Actor
from notify.campaigns import services
from notify.models import ApprovalRecord, Campaign
from templates_app.models import MessageTemplate

PASSWORD = "right-password-123"


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def _login(client: Client, password: str, ip: str = "10.1.2.3"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": password},
        REMOTE_ADDR=ip,
    )


def test_admin_login_locks_out_after_five_failures(admin_user):
    client = Client()
    for _ in range(6):
        assert _login(client, "wrong").status_code in (200, 429)
    locked = _login(client, PASSWORD)
    assert locked.status_code == 429  # django-axes' lockout answer
    assert "_auth_user_id" not in client.session
    # Another address is not locked out by the first one's failures.
    other = Client()
    assert _login(other, PASSWORD, ip="10.9.9.9").status_code == 302
    assert "_auth_user_id" in other.session


def test_admin_login_works_after_fewer_failures(admin_user):
    client = Client()
    for _ in range(3):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302


@pytest.fixture
def pending_campaign(tenant, sandbox_account, settings):
    settings.TIDINGS_APPROVAL_THRESHOLD = 1
    MessageTemplate.objects.create(
        app=tenant, name="Promo", code="promo", channel="email", receiver_type="email",
        content={"subject": "s", "text": "t"}, message_type="marketing",
    )  # fmt: skip
    campaign = services.campaign_create(
        tenant, Actor(app=tenant), name="c", template="promo",
        audience={"type": "list", "receivers": ["a@example.com", "b@example.com"]},
    )  # fmt: skip
    services.campaign_submit(campaign, Actor(app=tenant))
    return campaign


def test_campaign_decision_refuses_http_basic(pending_campaign, admin_user):
    token = base64.b64encode(f"root:{PASSWORD}".encode()).decode()
    response = Client().post(
        f"/api/v1/campaigns/{pending_campaign.pk}/approve",
        HTTP_AUTHORIZATION=f"Basic {token}",
    )
    assert response.status_code in (401, 403)
    assert Campaign.objects.get(pk=pending_campaign.pk).status == "pending_approval"
    assert not ApprovalRecord.objects.filter(action="approved").exists()


def test_campaign_decision_needs_the_csrf_token_of_the_session(pending_campaign, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = f"/api/v1/campaigns/{pending_campaign.pk}/approve"
    refused = client.post(url)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    assert Campaign.objects.get(pk=pending_campaign.pk).status == "pending_approval"

    client.get("/admin/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    approved = client.post(url, HTTP_X_CSRFTOKEN=token)
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
