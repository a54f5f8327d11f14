"""Approval cannot be bypassed by growing a group after submit: every run re-counts the
audience and sends the campaign back to approval when it grew past the threshold beyond
the approved size; a run never sends more receivers than it counted when it started."""

from __future__ import annotations

from django.test import Client

from notify.campaigns import execution
from notify.models import ApprovalRecord, Campaign, CampaignRun, UserGroup, UserGroupMember
from notify.models.profiles import UserProfile
from tests.campaigns.conftest import create_campaign
from tests.campaigns.test_campaigns import action, campaign_messages, run_now


def _group(tenant, size: int, start: int = 0) -> UserGroup:
    group, _ = UserGroup.objects.get_or_create(app=tenant, name="vip")
    add_members(group, range(start, start + size))
    return group


def add_members(group: UserGroup, numbers) -> None:
    for i in numbers:
        UserGroupMember.objects.create(group=group, user_id=f"u{i}")
        UserProfile.objects.create(app=group.app, external_id=f"u{i}", email=f"u{i}@example.com")


def _audit(campaign_id: int) -> list[str]:
    return list(
        ApprovalRecord.objects.filter(campaign_id=campaign_id)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_group_grown_past_the_threshold_after_approval_goes_back_to_approval(
    api, tenant, promo_template, staff, settings
):
    settings.TIDINGS_APPROVAL_THRESHOLD = 20
    group = _group(tenant, 10)
    campaign = create_campaign(api, audience={"type": "group", "group": "vip"},
                               variables={"name": "n", "code": "c"})  # fmt: skip
    assert action(api, campaign["id"], "submit").json()["status"] == "approved"  # 10 <= 20
    add_members(group, range(10, 60))  # 60 receivers now: well past the threshold

    started = action(api, campaign["id"], "start")

    assert started.status_code == 200
    assert started.json()["status"] == "pending_approval"
    assert not CampaignRun.objects.filter(campaign_id=campaign["id"]).exists()
    assert not campaign_messages(campaign["id"]).exists()
    assert _audit(campaign["id"]) == ["submitted", "auto_approved", "resubmitted"]
    note = ApprovalRecord.objects.get(campaign_id=campaign["id"], action="resubmitted").note
    assert "from 10 to 60" in note

    # A staff user approves the 60; then it runs and sends exactly them.
    client = Client()
    client.force_login(staff("bob"))
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/approve").status_code == 200
    action(api, campaign["id"], "start")
    run = run_now(campaign["id"])
    assert (run.status, run.accepted) == ("completed", 60)


def test_growth_below_the_threshold_needs_no_new_approval(api, tenant, promo_template, settings):
    settings.TIDINGS_APPROVAL_THRESHOLD = 20
    group = _group(tenant, 10)
    campaign = create_campaign(api, audience={"type": "group", "group": "vip"},
                               variables={"name": "n", "code": "c"})  # fmt: skip
    action(api, campaign["id"], "submit")
    add_members(group, range(10, 15))
    assert action(api, campaign["id"], "start").json()["status"] == "running"
    assert run_now(campaign["id"]).accepted == 15


def test_a_scheduled_campaign_whose_group_grew_stops_firing_until_approved(
    api, tenant, promo_template, settings
):
    settings.TIDINGS_APPROVAL_THRESHOLD = 20
    group = _group(tenant, 5)
    campaign = create_campaign(api, audience={"type": "group", "group": "vip"},
                               schedule="cron", cron="0 9 * * 1",
                               variables={"name": "n", "code": "c"})  # fmt: skip
    action(api, campaign["id"], "submit")
    assert action(api, campaign["id"], "start").json()["status"] == "scheduled"
    add_members(group, range(5, 30))

    assert execution.campaign_fire(campaign["id"]) is None  # what beat triggers

    fresh = Campaign.objects.select_related("periodic_task").get(pk=campaign["id"])
    assert fresh.status == "pending_approval"
    assert fresh.periodic_task.enabled is False
    assert not campaign_messages(campaign["id"]).exists()


def test_a_run_sends_no_more_than_it_counted_when_it_started(api, tenant, promo_template, settings):
    settings.TIDINGS_APPROVAL_THRESHOLD = 20
    settings.TIDINGS_CAMPAIGN_BATCH_SIZE = 4
    group = _group(tenant, 10)
    campaign = create_campaign(api, audience={"type": "group", "group": "vip"},
                               variables={"name": "n", "code": "c"})  # fmt: skip
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")  # the run counts 10
    add_members(group, range(10, 40))  # joined after the run started (and its check)

    run = run_now(campaign["id"])

    assert (run.status, run.total, run.accepted) == ("completed", 10, 10)
    assert campaign_messages(campaign["id"]).count() == 10
