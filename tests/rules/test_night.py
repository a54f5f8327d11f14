"""Quiet hours: the window in the receiver's or the App's time zone, drop or defer, and the
release of deferred messages (countdown, and the beat task when the countdown was lost)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from notify.delivery import batch_deliver
from notify.models import RuleSettings, TemplateRule, UserProfile
from notify.rules.night import in_quiet_hours, quiet_hours_end, zone
from notify.sweeper import messages_requeue_stuck
from tests.rules.conftest import details, states, trace
from tracking.models import Message


def _quiet_now(tenant, **extra) -> RuleSettings:
    """Quiet hours that contain this very moment in UTC (an hour either side)."""
    now = timezone.now()
    return RuleSettings.objects.create(
        app=tenant,
        time_zone="UTC",
        quiet_start=(now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        quiet_end=(now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
        **extra,
    )


def test_window_across_midnight_and_its_end():
    tz = zone("Asia/Shanghai")
    late = datetime(2024, 3, 1, 23, 30, tzinfo=tz)
    assert in_quiet_hours(late, time(22), time(8))
    assert not in_quiet_hours(late.replace(hour=12), time(22), time(8))
    assert quiet_hours_end(late, time(8)) == datetime(2024, 3, 2, 8, 0, tzinfo=tz)
    assert quiet_hours_end(late.replace(day=2, hour=3), time(8)) == datetime(
        2024, 3, 2, 8, 0, tzinfo=tz
    )


def test_drop_during_quiet_hours(send, tenant, email_template):
    _quiet_now(tenant)
    TemplateRule.objects.create(template=email_template, night_mode="drop")
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    batch_deliver([message.pk])
    assert states([message]) == ["NIGHT_DROPPED"]
    assert trace(message) == ["ACCEPTED", "QUEUED", "NIGHT_DROPPED"]


def test_defer_to_window_end_with_spread_then_send(
    send, tenant, email_template, broker, django_capture_on_commit_callbacks
):
    # given
    settings_row = _quiet_now(tenant, night_release_spread_seconds=120)
    TemplateRule.objects.create(template=email_template, night_mode="defer")
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    # when
    with django_capture_on_commit_callbacks(execute=True):
        batch_deliver([message.pk])
    # then it waits for the end of the window, plus at most the spread
    message.refresh_from_db()
    end = datetime.combine(timezone.now().date(), settings_row.quiet_end, tzinfo=UTC)
    if end < timezone.now():
        end += timedelta(days=1)
    assert message.state == "QUEUED"
    assert end <= message.next_attempt_at <= end + timedelta(seconds=120)
    assert "released at" in details(message, "NIGHT_DEFERRED")[0]
    # an hour away: no countdown task (it would outlive the broker's visibility timeout);
    # the sweeper releases it when due
    assert broker.llen("email.normal") == 0

    # when the window is over and the task runs
    RuleSettings.objects.filter(pk=settings_row.pk).update(quiet_start=time(0), quiet_end=time(0))
    from notify.rules.config import rule_config_clear

    rule_config_clear()
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    batch_deliver([message.pk])
    # then it goes the normal path
    assert trace(message) == ["ACCEPTED", "QUEUED", "NIGHT_DEFERRED", "SENDING", "SENT"]


def test_early_task_does_not_send_a_deferred_message(send, tenant, email_template):
    _quiet_now(tenant)
    TemplateRule.objects.create(template=email_template, night_mode="defer")
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    batch_deliver([message.pk])
    batch_deliver([message.pk])  # a duplicate task before the window's end
    assert states([message]) == ["QUEUED"]


def test_receivers_profile_time_zone_wins_over_the_apps(send, tenant, email_template):
    # given quiet hours now in UTC, and a user whose local time is 12 hours away
    _quiet_now(tenant)
    TemplateRule.objects.create(template=email_template, night_mode="drop")
    offset = "Etc/GMT-12" if timezone.now().hour < 12 else "Etc/GMT+12"
    UserProfile.objects.create(
        app=tenant, external_id="u1", email="far@example.com", time_zone=offset
    )
    far, near = send("welcome", ["far@example.com", "near@example.com"], {"name": "x", "code": "1"})
    # when
    batch_deliver([far.pk, near.pk])
    # then
    assert states([far, near]) == ["SENT", "NIGHT_DROPPED"]


def test_sweeper_releases_deferred_messages_when_due(
    send, tenant, email_template, broker, django_capture_on_commit_callbacks
):
    # given a deferred message, due a minute ago, with no countdown task (a long deferral,
    # or one whose task was lost)
    _quiet_now(tenant)
    TemplateRule.objects.create(template=email_template, night_mode="defer")
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    batch_deliver([message.pk])
    broker.flushdb()
    Message.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=60)
    )
    # when beat runs the sweeper
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_requeue_stuck() == 1
    # then it is on its lane again, and nothing not yet due is touched
    assert broker.llen("email.normal") == 1
    assert details(message, "QUEUED")[-1].startswith("re-enqueued")
    assert messages_requeue_stuck() == 0
