"""Admin pages: the progress bar, its live JSON, and four-eyes approval as an admin action."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from notify.actors import Actor
from notify.campaigns import services
from notify.models import ApprovalRecord, Campaign
from tests.campaigns.test_campaigns import run_now


def _campaign(tenant, user, receivers=("a@example.com", "b@example.com")):
    return services.campaign_create(
        tenant, Actor(user=user), name="Admin campaign", template="promo",
        audience={"type": "list", "receivers": list(receivers)},
        variables={"name": "n", "code": "c"},
    )  # fmt: skip


def test_changelist_and_change_page_show_progress(client, tenant, promo_template, staff):
    admin_user = get_user_model().objects.create_superuser("root", "r@example.com", "pw-12345678")
    campaign = _campaign(tenant, admin_user)
    services.campaign_submit(campaign, Actor(user=admin_user))
    services.campaign_start(campaign)
    run_now(campaign.pk)
    client.force_login(admin_user)

    listing = client.get("/admin/notify/campaign/")
    change = client.get(f"/admin/notify/campaign/{campaign.pk}/change/")
    progress = client.get(f"/admin/notify/campaign/{campaign.pk}/progress/")

    assert listing.status_code == 200 and b'<progress max="100" value="100.0">' in listing.content
    assert b"2 / 2 rows" in listing.content
    assert change.status_code == 200 and b"tidings-progress" in change.content
    assert progress.json()["accepted"] == 2 and progress.json()["status"] == "Completed"


def test_admin_approve_action_enforces_four_eyes(client, tenant, promo_template, staff, settings):
    settings.TIDINGS_APPROVAL_THRESHOLD = 1
    alice = get_user_model().objects.create_superuser("alice2", "a@example.com", "pw-12345678")
    bob = get_user_model().objects.create_superuser("bob2", "b@example.com", "pw-12345678")
    campaign = _campaign(tenant, alice)
    services.campaign_submit(campaign, Actor(user=alice))
    body = {"action": "approve", "_selected_action": [campaign.pk]}

    client.force_login(alice)
    client.post("/admin/notify/campaign/", body, follow=True)
    assert Campaign.objects.get(pk=campaign.pk).status == "pending_approval"

    client.force_login(bob)
    client.post("/admin/notify/campaign/", body, follow=True)
    assert Campaign.objects.get(pk=campaign.pk).status == "approved"
    assert ApprovalRecord.objects.filter(campaign=campaign, action="approved").get().actor == (
        "admin:bob2"
    )
