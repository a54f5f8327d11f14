"""POST /api/v1/send to a user group or a topic (issue 15): topics and subscriptions through
the profile API, the audience fanned out as a campaign, the approval threshold on the
resolved count, opted-out users skipped with their reason."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from channels_app.models import SandboxDelivery
from notify.actors import Actor
from notify.campaigns.services import campaign_decide
from notify.models import (
    Campaign,
    OptOut,
    SendRequest,
    Topic,
    UserGroup,
    UserGroupMember,
    UserProfile,
)
from templates_app.models import MessageTemplate
from tests.e2e.conftest import start_worker, wait_until  # noqa: F401 - the real-worker fixture
from tracking.models import Message, MessageEvent, MessageState


@pytest.fixture
def news(tenant, sandbox_account) -> MessageTemplate:
    return MessageTemplate.objects.create(
        app=tenant,
        name="News",
        code="news",
        channel="email",
        receiver_type="email",
        message_type="marketing",
        content={"subject": "News for {$name}", "text": "Read on, {$name}"},
    )


def make_profiles(tenant, count: int, prefix: str = "u") -> list[UserProfile]:
    return UserProfile.objects.bulk_create(
        [
            UserProfile(app=tenant, external_id=f"{prefix}{i}", email=f"{prefix}{i}@example.com")
            for i in range(count)
        ],
        batch_size=5000,
    )


def test_topics_and_subscriptions_through_the_profile_api(api, tenant):
    make_profiles(tenant, 1)
    created = api.post(
        "/api/v1/topics", {"code": "product-news", "name": "Product news"}, format="json"
    )
    again = api.post("/api/v1/topics", {"code": "product-news"}, format="json")

    subscribed = api.post("/api/v1/profiles/u0/topics", {"topic": "product-news"}, format="json")
    twice = api.post("/api/v1/profiles/u0/topics", {"topic": "product-news"}, format="json")
    unknown = api.post("/api/v1/profiles/u0/topics", {"topic": "nope"}, format="json")
    no_profile = api.post("/api/v1/profiles/ghost/topics", {"topic": "product-news"}, format="json")
    listed = api.get("/api/v1/topics").json()
    unsubscribed = api.delete("/api/v1/profiles/u0/topics/product-news")

    assert created.status_code == 201, created.content
    assert again.status_code == 400 and "code" in again.json()["fields"]
    assert subscribed.json() == {"external_id": "u0", "topics": ["product-news"]}
    assert twice.json()["topics"] == ["product-news"]
    assert unknown.status_code == 400 and "topic" in unknown.json()["fields"]
    assert no_profile.status_code == 404
    assert listed["results"][0]["subscriber_count"] == 1
    assert unsubscribed.json() == {"external_id": "u0", "topics": []}
    assert api.get("/api/v1/profiles/u0/topics").json()["topics"] == []


def test_bad_audiences_are_400s_naming_the_field_and_write_nothing(api, tenant, news):
    UserGroup.objects.create(app=tenant, name="empty")
    cases = {
        "audience": {"group": "beta", "topic": "x"},
        "audience.group": {"group": "nope"},
        "audience.topic": {"topic": "nope"},
    }
    for field, audience in cases.items():
        answer = api.post(
            "/api/v1/send",
            {"template": "news", "audience": audience, "variables": {"name": "n"}},
            format="json",
        )
        assert answer.status_code == 400 and field in answer.json()["fields"], answer.content
    both = api.post(
        "/api/v1/send",
        {"template": "news", "audience": {"group": "empty"}, "receivers": ["a@example.com"]},
        format="json",
    )
    missing = api.post(
        "/api/v1/send", {"template": "news", "audience": {"group": "empty"}}, format="json"
    )
    empty = api.post(
        "/api/v1/send",
        {"template": "news", "audience": {"group": "empty"}, "variables": {"name": "n"}},
        format="json",
    )

    assert both.status_code == 400 and "receivers" in both.json()["fields"]
    assert missing.status_code == 400 and "variables" in missing.json()["fields"]
    assert empty.status_code == 400 and "audience" in empty.json()["fields"]
    assert not Campaign.objects.exists() and not SendRequest.objects.exists()


def test_over_the_threshold_the_audience_send_waits_for_approval(api, tenant, news, settings):
    settings.TIDINGS_APPROVAL_THRESHOLD = 3
    make_profiles(tenant, 4)
    topic = Topic.objects.create(app=tenant, code="deals")
    topic.subscriptions.create(profile=UserProfile.objects.get(external_id="u0"))
    group = UserGroup.objects.create(app=tenant, name="all")
    UserGroupMember.objects.bulk_create(
        [UserGroupMember(group=group, user_id=f"u{i}") for i in range(4)]
    )
    body = {"template": "news", "variables": {"name": "n"}, "idempotency_key": "k1"}

    held = api.post("/api/v1/send", {**body, "audience": {"group": group.pk}}, format="json")
    replay = api.post("/api/v1/send", {**body, "audience": {"group": group.pk}}, format="json")
    small = api.post(
        "/api/v1/send", {**body, "idempotency_key": "k2", "audience": {"topic": "deals"}},
        format="json",
    )  # fmt: skip

    assert held.status_code == 202, held.content
    answer = held.json()
    assert answer["resolved"] == 4 and answer["status"] == "pending_approval"
    assert answer["approval"] == "pending" and answer["audience"]["group"]["name"] == "all"
    assert replay.json() == answer and replay.headers["Idempotent-Replayed"] == "true"
    assert small.json()["resolved"] == 1 and small.json()["status"] == "running"
    assert small.json()["audience"] == {"topic": {"code": "deals", "name": ""}}
    campaign = Campaign.objects.get(pk=answer["campaign_id"])
    assert str(campaign.origin_request.request_id) == answer["request_id"]
    assert not campaign.runs.exists()
    # A staff user's approval starts the fan-out: the caller makes no other call.
    staff = get_user_model().objects.create_user("boss", "b@example.com", "pw", is_staff=True)
    campaign_decide(campaign, Actor(user=staff), approve=True)
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.runs.get().total == 4


def test_a_campaign_audience_can_be_a_topic(api, tenant, news):
    make_profiles(tenant, 2)
    topic = Topic.objects.create(app=tenant, code="deals", name="Deals")
    for profile in UserProfile.objects.all():
        topic.subscriptions.create(profile=profile)

    created = api.post(
        "/api/v1/campaigns",
        {"name": "c", "template": "news", "audience": {"type": "topic", "topic": "deals"}},
        format="json",
    )
    unknown = api.post(
        "/api/v1/campaigns",
        {"name": "c", "template": "news", "audience": {"type": "topic", "topic": "nope"}},
        format="json",
    )

    assert created.status_code == 201, created.content
    audience = created.json()["audience"]
    assert audience["size"] == 2 and audience["topic"] == {"code": "deals", "name": "Deals"}
    assert unknown.status_code == 400 and "audience.topic" in unknown.json()["fields"]


def test_the_documented_audience_example_is_accepted(api, tenant, news):
    text = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    example = next(
        b for b in re.findall(r"```json\n(.*?)```", text, re.S) if '"audience": {"group"' in b
    )
    body = {**json.loads(example), "template": "news"}
    make_profiles(tenant, 2)
    group = UserGroup.objects.create(app=tenant, name=body["audience"]["group"])
    UserGroupMember.objects.bulk_create(
        [UserGroupMember(group=group, user_id=f"u{i}") for i in range(2)]
    )

    answer = api.post("/api/v1/send", body, format="json")

    assert answer.status_code == 202, answer.content
    assert set(answer.json()) == {"request_id", "audience", "resolved", "campaign_id", "status"}
    assert answer.json()["resolved"] == 2


@pytest.mark.e2e
def test_send_to_a_group_of_10000_delivers_once_each_and_skips_opted_out(
    api,
    tenant,
    news,
    start_worker,  # noqa: F811 - the fixture imported above
):
    members = 10_000
    profiles = make_profiles(tenant, members)
    group = UserGroup.objects.create(app=tenant, name="everyone")
    UserGroupMember.objects.bulk_create(
        [UserGroupMember(group=group, user_id=p.external_id) for p in profiles], batch_size=5000
    )
    opted = profiles[:5]
    OptOut.objects.bulk_create(
        [
            OptOut(app=tenant, channel="email", receiver=p.email, message_type="marketing",
                   profile=p)
            for p in opted
        ]
    )  # fmt: skip
    # Fewer, larger delivery batches: less per-task overhead for 10,000 messages.
    start_worker(
        f"{settings.TIDINGS_CAMPAIGN_QUEUE},email.normal", concurrency=2, TIDINGS_BATCH_SIZE=2000
    )
    started = time.monotonic()  # ~17 s measured on a loaded 2-core machine

    answer = api.post(
        "/api/v1/send",
        {"template": "news", "audience": {"group": "everyone"}, "variables": {"name": "you"}},
        format="json",
    )

    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["resolved"] == members and body["status"] == "running"
    expected = members - len(opted)
    assert wait_until(lambda: SandboxDelivery.objects.count() >= expected, 120)
    assert time.monotonic() - started < 120
    assert wait_until(
        lambda: Message.objects.filter(state=MessageState.OPTED_OUT).count() == len(opted), 30
    )
    received = Counter(SandboxDelivery.objects.values_list("receiver", flat=True))
    assert len(received) == expected and set(received.values()) == {1}
    assert not {p.email for p in opted} & set(received)
    skipped = MessageEvent.objects.filter(state=MessageState.OPTED_OUT).values_list(
        "detail", flat=True
    )
    assert set(skipped) == {"receiver opted out of marketing messages on email"}
    # The request_id of the answer finds the messages of every batch.
    listed = api.get("/api/v1/messages", {"request_id": body["request_id"]}).json()["results"]
    assert listed and {m["receiver"] for m in listed} <= {p.email for p in profiles}
    progress = api.get(f"/api/v1/campaigns/{body['campaign_id']}").json()["progress"]
    assert progress["states"].get(MessageState.OPTED_OUT) == len(opted)
