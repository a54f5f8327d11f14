"""Each consumer rule in-process on PostgreSQL and real Redis: its decision, its final or
deferred state, and its entry in the message's trace."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from channels_app.models import ChannelAccount, SandboxDelivery
from notify.delivery import batch_deliver
from notify.models import FlowLimit, RuleSettings, SensitiveWord, TemplateRule
from notify.rules.base import RuleOutcome
from notify.rules.dedup import ContentDedupRule
from notify.rules.flow import FlowControlRule
from templates_app.models import MessageTemplate
from tests.rules.conftest import details, states, trace
from tracking.models import Message


def _deliver(messages):
    batch_deliver([m.pk for m in messages])


def test_discarded_template_and_channel_stop_with_their_reason(send, tenant, email_template):
    # given
    TemplateRule.objects.create(template=email_template, discarded=True)
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    # when
    _deliver([message])
    # then
    assert states([message]) == ["DISCARDED"]
    assert trace(message) == ["ACCEPTED", "QUEUED", "DISCARDED"]
    assert "template 'welcome' is switched off" in details(message, "DISCARDED")[0]
    assert not SandboxDelivery.objects.exists()


def test_discarded_channel(send, tenant, email_template):
    RuleSettings.objects.create(app=tenant, discarded_channels=["email"])
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    _deliver([message])
    assert states([message]) == ["DISCARDED"]
    assert "channel 'email' is switched off" in details(message, "DISCARDED")[0]


def test_whitelist_outside_production_only(send, tenant, email_template, settings):
    RuleSettings.objects.create(app=tenant, whitelist_enabled=True, whitelist=["Ada@example.com"])
    messages = send("welcome", ["ada@example.com", "bob@example.com"], {"name": "x", "code": "1"})
    _deliver(messages)
    assert states(messages) == ["SENT", "FILTERED_WHITELIST"]
    assert "FILTERED_WHITELIST" in trace(messages[1])

    settings.TIDINGS_ENVIRONMENT = "production"
    [again] = send("welcome", ["bob@example.com"], {"name": "y", "code": "2"})
    _deliver([again])
    assert states([again]) == ["SENT"]


def test_sensitive_words_masked_in_what_is_sent(send, tenant, email_template):
    SensitiveWord.objects.create(app=tenant, word="casino")
    [message] = send("welcome", ["ada@example.com"], {"name": "CASINO king", "code": "1"})
    _deliver([message])
    message.refresh_from_db()
    assert message.state == "SENT"
    assert message.content["subject"] == "Hi *** king"
    assert SandboxDelivery.objects.get().content["text"].startswith("Hello *** king")
    assert trace(message) == ["ACCEPTED", "QUEUED", "SENSITIVE_MASKED", "SENDING", "SENT"]
    assert "casino" in details(message, "SENSITIVE_MASKED")[0]


def test_sensitive_words_reject_per_template(send, tenant, email_template):
    SensitiveWord.objects.create(app=tenant, word="casino")
    TemplateRule.objects.create(template=email_template, sensitive_mode="reject")
    clean, dirty = send(
        "welcome",
        messages=[
            {"receiver": "a@example.com", "variables": {"name": "Ada", "code": "1"}},
            {"receiver": "b@example.com", "variables": {"name": "casino", "code": "1"}},
        ],
    )
    _deliver([clean, dirty])
    assert states([clean, dirty]) == ["SENT", "SENSITIVE_REJECTED"]
    assert SandboxDelivery.objects.count() == 1


def test_content_dedup_sends_the_same_content_once_per_window(send, email_template):
    first = send("welcome", ["ada@example.com"] * 3, {"name": "Ada", "code": "1"})
    other = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "2"})
    _deliver(first + other)
    assert states(first) == ["SENT", "DEDUP_CONTENT", "DEDUP_CONTENT"]
    assert states(other) == ["SENT"]  # different content
    assert "DEDUP_CONTENT" in trace(first[1])


def test_dedup_window_and_max_per_template(send, email_template):
    TemplateRule.objects.create(template=email_template, dedup_max=2, dedup_window_seconds=60)
    messages = send("welcome", ["ada@example.com"] * 3, {"name": "Ada", "code": "1"})
    _deliver(messages)
    assert states(messages) == ["SENT", "SENT", "DEDUP_CONTENT"]


def test_a_rerun_message_is_not_its_own_duplicate(send, email_template):
    # given a message the rule admitted once (then e.g. throttled, or retried)
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    rule, now = ContentDedupRule(), timezone.now()
    assert rule.apply([message], now, RuleOutcome()) == [message]
    # when the same message comes through again
    outcome = RuleOutcome()
    passed = rule.apply([message], now, outcome)
    # then it still passes
    assert passed == [message]
    assert not outcome.stopped


def test_frequency_cap_per_receiver_and_channel(send, tenant, email_template):
    RuleSettings.objects.create(app=tenant, frequency_cap=2)
    messages = send(
        "welcome",
        messages=[
            {"receiver": "ada@example.com", "variables": {"name": "Ada", "code": str(i)}}
            for i in range(4)
        ],
    )
    bob = send("welcome", ["bob@example.com"], {"name": "Bob", "code": "1"})
    _deliver(messages + bob)
    assert states(messages) == ["SENT", "SENT", "DEDUP_FREQUENCY", "DEDUP_FREQUENCY"]
    assert states(bob) == ["SENT"]
    assert "already got 2 email message(s) today" in details(messages[2], "DEDUP_FREQUENCY")[0]


def test_frequency_cap_per_channel_override_and_verification_exemption(
    send, tenant, email_template, verification_template
):
    row = RuleSettings.objects.create(app=tenant, frequency_cap=5, frequency_caps={"email": 1})
    notices = send(
        "welcome",
        messages=[{"receiver": "ada@example.com", "variables": {"name": "A", "code": str(i)}} for i in range(2)],
    )  # fmt: skip
    codes = send(
        "code",
        messages=[{"receiver": "ada@example.com", "variables": {"code": str(i)}} for i in range(3)],
    )
    _deliver(notices + codes)
    assert states(notices) == ["SENT", "DEDUP_FREQUENCY"]
    assert states(codes) == ["SENT", "SENT", "SENT"]  # exempt unless set

    row.verification_frequency_cap = 1
    row.save()
    from notify.rules.config import rule_config_clear

    rule_config_clear()
    later = send(
        "code",
        messages=[{"receiver": "bob@example.com", "variables": {"code": str(i)}} for i in range(2)],
    )
    _deliver(later)
    assert states(later) == ["SENT", "DEDUP_FREQUENCY"]


def test_flow_control_grants_the_bucket_and_defers_the_rest(
    send, tenant, email_template, broker, django_capture_on_commit_callbacks
):
    # given an account limited to 2 at once, then 1 per second
    FlowLimit.objects.create(
        account=ChannelAccount.objects.get(name="sandbox-email"), rate_per_second=1, burst=2
    )
    messages = send(
        "welcome",
        messages=[
            {"receiver": f"u{i}@example.com", "variables": {"name": "x", "code": "1"}}
            for i in range(5)
        ],
    )
    before = timezone.now()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        _deliver(messages)
    # then two are sent, three wait (re-queued with growing delays), none is dropped
    rows = list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("id"))
    assert [m.state for m in rows] == ["SENT", "SENT", "QUEUED", "QUEUED", "QUEUED"]
    delays = [(m.next_attempt_at - before).total_seconds() for m in rows[2:]]
    assert 0 < delays[0] < delays[2] <= 5
    assert trace(rows[2]) == ["ACCEPTED", "QUEUED", "THROTTLED"]
    assert broker.llen("email.normal") >= 1  # the waiters' tasks are on the lane, with ETAs
    assert SandboxDelivery.objects.count() == 2


def test_flow_bucket_is_one_for_every_caller(send, tenant, email_template):
    FlowLimit.objects.create(
        account=ChannelAccount.objects.get(name="sandbox-email"), rate_per_second=0.01, burst=3
    )
    messages = send("welcome", [f"u{i}@example.com" for i in range(5)], {"name": "x", "code": "1"})
    rule, now = FlowControlRule(), timezone.now()
    granted = []
    for message in messages:  # five separate batches, as five workers would run them
        outcome = RuleOutcome()
        granted += rule.apply([message], now, outcome)
    assert len(granted) == 3


def test_flow_counted_by_requests_grants_whole_provider_calls(send, tenant, fake_http):
    account = ChannelAccount.objects.create(
        app=tenant,
        name="hook",
        channel="webhook",
        provider="webhook",
        config={"url": fake_http.url + "/hook", "batch_size": 10},
    )
    MessageTemplate.objects.create(
        app=tenant, name="h", code="hook", channel="webhook", receiver_type="user_id",
        content={"text": "hi"}, channel_account=account,
    )  # fmt: skip
    FlowLimit.objects.create(account=account, rate_per_second=0.01, burst=2, count_by="requests")
    messages = send("hook", [f"u{i}" for i in range(25)])
    _deliver(messages)
    assert states(messages).count("SENT") == 20  # two requests of ten
    assert len(fake_http.requests) == 2


def test_verification_code_gets_its_default_ttl_and_expires(send, verification_template):
    [code] = send("code", ["ada@example.com"], {"code": "123456"})
    assert code.expires_at is not None
    assert (code.expires_at - code.created_at) == timedelta(seconds=300)
    [custom] = send("code", ["bob@example.com"], {"code": "1"}, ttl=60)
    assert (custom.expires_at - custom.created_at) == timedelta(seconds=60)

    Message.objects.filter(pk=code.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _deliver([code])
    assert states([code]) == ["EXPIRED"]
    assert "EXPIRED" in trace(code)


def test_notice_has_no_default_ttl(send, email_template):
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    assert message.expires_at is None


def test_settings_change_reaches_workers_without_restart(send, tenant, email_template, settings):
    # A worker's cache expires by age: with a 0 s TTL the next batch sees the new settings.
    settings.TIDINGS_RULES_CACHE_SECONDS = 0.0
    [first] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    _deliver([first])
    RuleSettings.objects.create(app=tenant, discarded_channels=["email"])  # no cache clear
    [second] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "2"})
    _deliver([second])
    assert states([first, second]) == ["SENT", "DISCARDED"]
