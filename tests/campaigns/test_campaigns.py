"""Campaign API, crowd files, approval, schedules and the fan-out (run in-process here;
tests/campaigns/test_e2e.py runs it on real worker and beat processes)."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django_celery_beat.models import PeriodicTask

from notify.campaigns import execution, segments
from notify.campaigns.crowd import CrowdReader
from notify.models import ApprovalRecord, Campaign, CampaignRun, CampaignSegment, UserGroup
from notify.models.profiles import UserProfile
from tests.campaigns.conftest import create_campaign, crowd, upload
from tracking.models import Message, MessageEvent, MessageState


def run_now(campaign_id: int) -> CampaignRun:
    """Execute the campaign's latest run in this process (what the worker task does)."""
    run = CampaignRun.objects.filter(campaign_id=campaign_id).order_by("-number").first()
    execution.campaign_run_execute(run.pk)
    run.refresh_from_db()
    return run


def campaign_messages(campaign_id: int):
    campaign = Campaign.objects.get(pk=campaign_id)
    from notify.campaigns.selectors import campaign_message_ids

    return Message.objects.filter(id__in=campaign_message_ids(campaign))


def action(api, campaign_id: int, name: str):
    return api.post(f"/api/v1/campaigns/{campaign_id}/{name}", format="json")


# --- crowd files ------------------------------------------------------------------------------


def test_reader_resumes_at_the_byte_offset_of_a_checkpoint():
    text = 'receiver,name\r\na@x.io,"Ann\nLee"\r\nb@x.io,Bob\r\n\r\nc@x.io,"C, Jr"\r\n'
    handle = io.BytesIO(("\ufeff" + text).encode())
    reader = CrowdReader(handle, ["name"])
    rows = iter(reader)
    first = next(rows)
    assert (first.line, first.receiver, first.variables) == (2, "a@x.io", {"name": "Ann\nLee"})
    offset, line = reader.offset, reader.line

    resumed = CrowdReader(handle, ["name"], offset=offset, line=line, header=reader.header)
    rest = [(r.line, r.receiver, r.variables["name"]) for r in resumed]

    assert rest == [(4, "b@x.io", "Bob"), (6, "c@x.io", "C, Jr")]


def test_upload_counts_rows_and_reports_invalid_ones_by_line(api, promo_template):
    campaign = create_campaign(api)
    text = crowd(3) + "not-an-email,X,1\n,Y,2\nz@example.com,Z\n"

    response = upload(api, campaign["id"], text)

    assert response.status_code == 201, response.content
    audience = response.json()["audience"]
    assert audience["file"]["rows"] == 6
    assert audience["file"]["invalid_rows"] == 3
    problems = {p["line"]: p["problem"] for p in audience["file"]["problems"]}
    assert problems[5] == "not a valid email address"
    assert problems[6].startswith("empty receiver")
    assert problems[7] == "expected 3 fields, got 2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email,name,code\na@x.io,A,1\n", "line 1: missing receiver column"),
        ("receiver,name\na@x.io,A\n", "line 1: missing variable column 'code'"),
        ("receiver,name,code\n", "line 2: no rows after the header"),
        ("", "line 1: the file is empty"),
    ],
)
def test_bad_files_are_rejected_naming_the_line(api, promo_template, text, message):
    campaign = create_campaign(api)

    response = upload(api, campaign["id"], text)

    assert response.status_code == 400
    body = response.json()
    assert message in body["message"]
    assert "file" in body["fields"]


def test_austin_user_id_column_and_shared_variables_fill_missing_columns(
    api, tenant, sandbox_account
):
    from templates_app.models import MessageTemplate

    MessageTemplate.objects.create(
        app=tenant, name="u", code="ids", channel="email", receiver_type="user_id",
        content={"subject": "s", "text": "{$greeting} {$name}"},
    )  # fmt: skip
    campaign = create_campaign(api, template="ids", variables={"greeting": "Hello"})

    response = upload(api, campaign["id"], "userId,name\nu1,Ann\nu2,Bob\n")

    assert response.status_code == 201, response.content
    assert response.json()["audience"]["file"]["receiver_column"] == "userId"


def test_invalid_rows_are_reported_and_valid_rows_go_out(api, promo_template, settings):
    settings.TIDINGS_CAMPAIGN_BATCH_SIZE = 2
    campaign = create_campaign(api)
    upload(api, campaign["id"], crowd(3) + "bad,X,1\n" + crowd(2, start=10).split("\n", 1)[1])
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")

    run = run_now(campaign["id"])

    assert (run.status, run.accepted, run.rejected, run.rows_done) == ("completed", 5, 1, 6)
    assert run.problems == [{"line": 5, "receiver": "bad", "problem": "not a valid email address"}]
    messages = campaign_messages(campaign["id"])
    assert sorted(messages.values_list("receiver", flat=True)) == sorted(
        [f"user{i}@example.com" for i in (0, 1, 2, 10, 11)]
    )
    assert messages.get(receiver="user10@example.com").content == {
        "subject": "Hi User 10",
        "text": "Your code 10",
    }
    assert set(messages.values_list("priority", flat=True)) == {"low"}


# --- lifecycle and API ------------------------------------------------------------------------


def test_lifecycle_of_a_campaign_to_a_list(api, promo_template):
    campaign = create_campaign(
        api,
        audience={
            "type": "list",
            "receivers": [
                {"receiver": "a@example.com", "variables": {"name": "A", "code": "1"}},
                {"receiver": "b@example.com", "variables": {"name": "B", "code": "2"}},
            ],
        },
        priority="normal",
    )
    assert campaign["status"] == "draft"
    assert action(api, campaign["id"], "start").status_code == 409

    assert action(api, campaign["id"], "submit").json()["status"] == "approved"
    started = action(api, campaign["id"], "start").json()
    assert started["status"] == "running"
    run_now(campaign["id"])

    detail = api.get(f"/api/v1/campaigns/{campaign['id']}").json()
    assert detail["status"] == "completed"
    progress = detail["progress"]
    assert (progress["total"], progress["accepted"], progress["percent"]) == (2, 2, 100.0)
    assert progress["states"] == {"QUEUED": 2}
    assert [a["action"] for a in detail["approvals"]] == ["auto_approved", "submitted"]
    for name in ("submit", "start", "pause", "resume", "cancel"):
        response = action(api, campaign["id"], name)
        assert response.status_code == 409, name
        assert response.json()["error"] == "invalid_status"


def test_an_app_never_sees_another_apps_campaign(api, other_api, promo_template):
    campaign = create_campaign(api)

    assert other_api.get(f"/api/v1/campaigns/{campaign['id']}").status_code == 404
    assert action(other_api, campaign["id"], "submit").status_code == 404
    assert upload(other_api, campaign["id"], crowd(1)).status_code == 404
    assert other_api.get("/api/v1/campaigns/").json()["count"] == 0


def test_create_validates_fields(api, promo_template):
    cases = [
        ({"template": "nope"}, "template"),
        ({"audience": {"type": "tv"}}, "audience.type"),
        ({"audience": {"type": "group", "group": "missing"}}, "audience.group"),
        ({"schedule": "cron", "cron": "61 * * * *"}, "cron"),
        ({"schedule": "cron", "cron": "* * *"}, "cron"),
        ({"schedule": "at"}, "send_at"),
        ({"schedule": "at", "send_at": "2030-01-01T09:00:00"}, "send_at"),
        ({"schedule": "cron", "cron": "0 9 * * 1", "timezone": "Mars/Base"}, "timezone"),
    ]
    for overrides, field in cases:
        body = {"name": "c", "template": "promo", "audience": {"type": "file"}, **overrides}
        response = api.post("/api/v1/campaigns/", body, format="json")
        assert response.status_code == 400, overrides
        assert field in response.json()["fields"], (overrides, response.json())


def test_pause_stops_between_batches_and_resume_continues_from_the_checkpoint(
    api, promo_template, settings, monkeypatch
):
    settings.TIDINGS_CAMPAIGN_BATCH_SIZE = 2
    campaign = create_campaign(api)
    upload(api, campaign["id"], crowd(7))
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")
    commit = execution._batch_commit
    calls = []

    def pause_after_two(campaign_obj, run, token, batch):
        calls.append(1)
        done = commit(campaign_obj, run, token, batch)
        if len(calls) == 2:
            assert action(api, campaign["id"], "pause").json()["status"] == "paused"
        return done

    monkeypatch.setattr(execution, "_batch_commit", pause_after_two)
    run = run_now(campaign["id"])
    assert (run.status, run.rows_done, run.batches_done) == ("paused", 4, 2)
    assert campaign_messages(campaign["id"]).count() == 4

    assert action(api, campaign["id"], "resume").json()["status"] == "running"
    run = run_now(campaign["id"])

    assert (run.status, run.rows_done, run.accepted) == ("completed", 7, 7)
    receivers = Counter(campaign_messages(campaign["id"]).values_list("receiver", flat=True))
    assert len(receivers) == 7 and set(receivers.values()) == {1}


def test_a_crashed_run_resumes_from_its_checkpoint_without_duplicates(
    api, promo_template, settings, monkeypatch, broker
):
    settings.TIDINGS_CAMPAIGN_BATCH_SIZE = 3
    settings.TIDINGS_CAMPAIGN_STALL_SECONDS = 0
    campaign = create_campaign(api)
    upload(api, campaign["id"], crowd(10))
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")
    commit = execution._batch_commit

    def crash_on_third(campaign_obj, run, token, batch):
        if run.batches_done == 2:
            raise SystemExit("worker killed")  # not an Exception: nothing cleans up
        return commit(campaign_obj, run, token, batch)

    monkeypatch.setattr(execution, "_batch_commit", crash_on_third)
    with pytest.raises(SystemExit):
        run_now(campaign["id"])
    run = CampaignRun.objects.get(campaign_id=campaign["id"])
    assert (run.status, run.rows_done, run.owner is not None) == ("running", 6, True)

    monkeypatch.setattr(execution, "_batch_commit", commit)
    # Beat's resume task finds the stalled run and re-publishes it; run it here instead.
    assert execution.campaign_runs_resume_stalled() == 1
    assert broker.llen("campaigns") == 1
    run = run_now(campaign["id"])

    assert (run.status, run.rows_done, run.accepted, run.batches_done) == ("completed", 10, 10, 4)
    receivers = Counter(campaign_messages(campaign["id"]).values_list("receiver", flat=True))
    assert len(receivers) == 10 and set(receivers.values()) == {1}


def test_a_live_lease_keeps_a_second_executor_out(api, promo_template):
    campaign = create_campaign(api, audience={"type": "list", "receivers": ["a@example.com"]},
                               variables={"name": "n", "code": "c"})  # fmt: skip
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")
    run = CampaignRun.objects.get(campaign_id=campaign["id"])
    CampaignRun.objects.filter(pk=run.pk).update(owner="00000000-0000-0000-0000-000000000001",
                                                 heartbeat_at=run.started_at.now(tz=run.started_at.tzinfo))  # fmt: skip

    assert execution.campaign_run_execute(run.pk) == "not claimed"
    assert campaign_messages(campaign["id"]).count() == 0


def test_cancel_stops_the_run_and_cancels_queued_messages(api, promo_template, settings):
    settings.TIDINGS_CAMPAIGN_BATCH_SIZE = 2
    campaign = create_campaign(api)
    upload(api, campaign["id"], crowd(3))
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")
    run_now(campaign["id"])
    Campaign.objects.filter(pk=campaign["id"]).update(status="running")  # as if still going

    assert action(api, campaign["id"], "cancel").json()["status"] == "cancelled"

    states = set(campaign_messages(campaign["id"]).values_list("state", flat=True))
    assert states == {MessageState.CANCELLED}
    assert MessageEvent.objects.filter(state="CANCELLED", detail="campaign cancelled").count() == 3


# --- user groups ----------------------------------------------------------------------------


def test_user_group_audience_sends_to_user_receivers(api, tenant, promo_template):
    response = api.post("/api/v1/user-groups/", {"name": "vip", "user_ids": ["u1", "u2", "u2"]},
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    group = response.json()
    assert group["member_count"] == 2
    api.post(f"/api/v1/user-groups/{group['id']}/members", {"add": ["u3"], "remove": ["u1"]},
             format="json")  # fmt: skip
    UserProfile.objects.create(app=tenant, external_id="u2", email="two@example.com")
    UserProfile.objects.create(app=tenant, external_id="u3", email="three@example.com")
    campaign = create_campaign(api, audience={"type": "group", "group": "vip"},
                               variables={"name": "friend", "code": "VIP"})  # fmt: skip
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")

    run = run_now(campaign["id"])

    assert (run.status, run.accepted, run.total) == ("completed", 2, 2)
    assert sorted(campaign_messages(campaign["id"]).values_list("receiver", flat=True)) == [
        "three@example.com",
        "two@example.com",
    ]
    assert api.delete(f"/api/v1/user-groups/{group['id']}").status_code == 204
    assert not UserGroup.objects.filter(pk=group["id"]).exists()


# --- approval (four-eyes) ---------------------------------------------------------------------


def as_staff(client, user) -> dict:
    """Decisions take an admin session (with CSRF, which the test client waives)."""
    client.force_login(user)
    return {}


def test_campaign_above_the_threshold_waits_for_a_different_staff_user(
    api, client, promo_template, staff, settings
):
    settings.TIDINGS_APPROVAL_THRESHOLD = 2
    alice, bob = staff("alice"), staff("bob")
    campaign = create_campaign(api)
    upload(api, campaign["id"], crowd(3))

    assert action(api, campaign["id"], "submit").json()["status"] == "pending_approval"
    assert action(api, campaign["id"], "start").status_code == 409
    # The App's own key cannot approve what it submitted.
    denied = action(api, campaign["id"], "approve")
    assert denied.status_code == 403 and denied.json()["error"] == "approval_requires_staff"

    rejected = client.post(f"/api/v1/campaigns/{campaign['id']}/reject",
                           data=json.dumps({"note": "wrong list"}), content_type="application/json",
                           **as_staff(client, alice))  # fmt: skip
    assert rejected.status_code == 200 and rejected.json()["status"] == "draft"
    action(api, campaign["id"], "submit")
    approved = client.post(f"/api/v1/campaigns/{campaign['id']}/approve", **as_staff(client, bob))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    audit = list(
        ApprovalRecord.objects.filter(campaign_id=campaign["id"])
        .order_by("id")
        .values_list("action", "actor", "note")
    )
    assert audit == [
        ("submitted", "app:acme", "3 receivers"),
        ("rejected", "admin:alice", "wrong list"),
        ("submitted", "app:acme", "3 receivers"),
        ("approved", "admin:bob", ""),
    ]
    assert alice and bob


def test_staff_cannot_approve_a_campaign_they_submitted(
    client, promo_template, staff, settings, tenant
):
    from notify.actors import Actor
    from notify.campaigns import services

    settings.TIDINGS_APPROVAL_THRESHOLD = 1
    alice, bob = staff("alice"), staff("bob")
    campaign = services.campaign_create(
        tenant, Actor(user=alice), name="c", template="promo",
        audience={"type": "list", "receivers": ["a@example.com", "b@example.com"]},
        variables={"name": "n", "code": "c"},
    )  # fmt: skip
    services.campaign_submit(campaign, Actor(user=alice))

    own = client.post(f"/api/v1/campaigns/{campaign.pk}/approve", **as_staff(client, alice))
    assert own.status_code == 403 and own.json()["error"] == "same_approver"
    other = client.post(f"/api/v1/campaigns/{campaign.pk}/approve", **as_staff(client, bob))
    assert other.status_code == 200
    assert other.json()["status"] == "approved"
    assert bob.is_staff


# --- schedules (beat entries) -----------------------------------------------------------------


def test_cron_campaign_owns_its_beat_entry(api, promo_template):
    campaign = create_campaign(api, schedule="cron", cron="0 9 * * 1", timezone="Asia/Shanghai",
                               audience={"type": "list", "receivers": ["a@example.com"]},
                               variables={"name": "n", "code": "c"})  # fmt: skip
    action(api, campaign["id"], "submit")

    started = action(api, campaign["id"], "start").json()

    assert started["status"] == "scheduled"
    task = PeriodicTask.objects.get(name=started["schedule"]["periodic_task"])
    assert (task.task, task.queue, task.enabled) == (
        "notify.campaigns.tasks.campaign_fire",
        "campaigns",
        True,
    )
    assert json.loads(task.args) == [campaign["id"]]
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "9", "1")
    assert str(task.crontab.timezone) == "Asia/Shanghai"

    changed = api.patch(
        f"/api/v1/campaigns/{campaign['id']}", {"cron": "30 8 * * *"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour) == ("30", "8")
    # Audience changes need a draft.
    assert (
        api.patch(f"/api/v1/campaigns/{campaign['id']}", {"name": "x"}, format="json").status_code
        == 409
    )

    action(api, campaign["id"], "pause")
    task.refresh_from_db()
    assert task.enabled is False
    action(api, campaign["id"], "resume")
    task.refresh_from_db()
    assert task.enabled is True

    assert execution.campaign_fire(campaign["id"]) is not None  # what beat triggers
    assert execution.campaign_fire(campaign["id"]) is None  # still running: not twice
    run_now(campaign["id"])
    assert Campaign.objects.get(pk=campaign["id"]).status == "scheduled"  # waits for the next

    action(api, campaign["id"], "cancel")
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_at_time_campaign_uses_a_one_off_clocked_entry_removed_when_done(api, promo_template):
    campaign = create_campaign(api, schedule="at", send_at="2030-01-01T09:00:00+08:00",
                               audience={"type": "list", "receivers": ["a@example.com"]},
                               variables={"name": "n", "code": "c"})  # fmt: skip
    action(api, campaign["id"], "submit")
    started = action(api, campaign["id"], "start").json()
    task = PeriodicTask.objects.get(name=started["schedule"]["periodic_task"])
    assert task.one_off and task.clocked.clocked_time.isoformat() == "2030-01-01T01:00:00+00:00"

    execution.campaign_fire(campaign["id"])
    run_now(campaign["id"])

    assert Campaign.objects.get(pk=campaign["id"]).status == "completed"
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


# --- segments: a large file fanned out in parallel ------------------------------------------


def _segmented(api, settings, rows: int) -> tuple[dict, CampaignRun]:
    settings.TIDINGS_CAMPAIGN_SEGMENT_ROWS = 4
    settings.TIDINGS_CAMPAIGN_BATCH_SIZE = 2
    campaign = create_campaign(api)
    upload(api, campaign["id"], crowd(rows))
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")
    return campaign, CampaignRun.objects.get(campaign_id=campaign["id"])


def test_a_large_file_fans_out_in_segments_each_row_once(api, promo_template, settings, broker):
    campaign, run = _segmented(api, settings, 10)
    assert Campaign.objects.get(pk=campaign["id"]).audience_file.segments  # rows 5 and 9

    assert segments.run_execute(run.pk) == "3 segments enqueued"
    pks = list(
        CampaignSegment.objects.filter(run=run).order_by("number").values_list("pk", flat=True)
    )
    assert len(pks) == 3 and broker.llen("campaigns") == 3  # one task per segment
    # The workers take them in any order, in parallel.
    assert [segments.segment_execute(pk) for pk in reversed(pks)] == [
        "segment done", "segment done", "completed",
    ]  # fmt: skip

    run.refresh_from_db()
    assert (run.status, run.rows_done, run.accepted, run.batches_done) == ("completed", 10, 10, 5)
    receivers = Counter(campaign_messages(campaign["id"]).values_list("receiver", flat=True))
    assert receivers == {f"user{i}@example.com": 1 for i in range(10)}
    assert Campaign.objects.get(pk=campaign["id"]).status == "completed"


def test_a_crashed_segment_resumes_from_its_own_checkpoint(
    api, promo_template, settings, monkeypatch, broker
):
    campaign, run = _segmented(api, settings, 10)
    settings.TIDINGS_CAMPAIGN_STALL_SECONDS = 0
    segments.run_execute(run.pk)
    commit = segments._segment_commit

    def crash_in_the_middle(campaign_obj, run_obj, segment, token, batch):
        if segment.number == 1 and segment.batches_done == 1:
            raise SystemExit("worker killed")  # not an Exception: nothing cleans up
        return commit(campaign_obj, run_obj, segment, token, batch)

    monkeypatch.setattr(segments, "_segment_commit", crash_in_the_middle)
    for segment in CampaignSegment.objects.filter(run=run).order_by("number"):
        if segment.number == 1:
            with pytest.raises(SystemExit):
                segments.segment_execute(segment.pk)
        else:
            assert segments.segment_execute(segment.pk) == "segment done"
    run.refresh_from_db()
    assert (run.status, run.rows_done) == ("running", 8)

    monkeypatch.setattr(segments, "_segment_commit", commit)
    assert execution.campaign_runs_resume_stalled() == 1  # beat: the run's heartbeat is stale
    assert segments.run_execute(run.pk) == "1 segments enqueued"  # only the cut-off one
    crashed = CampaignSegment.objects.get(run=run, number=1)
    assert segments.segment_execute(crashed.pk) == "completed"

    run.refresh_from_db()
    assert (run.status, run.rows_done, run.accepted) == ("completed", 10, 10)
    receivers = Counter(campaign_messages(campaign["id"]).values_list("receiver", flat=True))
    assert receivers == {f"user{i}@example.com": 1 for i in range(10)}


def test_progress_counts_of_a_large_run_are_cached_for_a_few_seconds(api, promo_template, settings):
    settings.TIDINGS_CAMPAIGN_PROGRESS_CACHE_ABOVE = 2  # "large": more than 2 messages
    settings.TIDINGS_CAMPAIGN_PROGRESS_CACHE_SECONDS = 60
    campaign = create_campaign(api)
    upload(api, campaign["id"], crowd(3))
    action(api, campaign["id"], "submit")
    action(api, campaign["id"], "start")
    run_now(campaign["id"])
    path = f"/api/v1/campaigns/{campaign['id']}"
    assert api.get(path).json()["progress"]["states"] == {"QUEUED": 3}

    campaign_messages(campaign["id"]).update(state=MessageState.SENT)
    assert api.get(path).json()["progress"]["states"] == {"QUEUED": 3}  # no recount yet

    settings.TIDINGS_CAMPAIGN_PROGRESS_CACHE_ABOVE = 3  # not large: counted every time
    assert api.get(path).json()["progress"]["states"] == {"SENT": 3}
