"""Services and selectors for topics and their subscriptions (by user profile)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from notify.errors import ApiError, invalid
from notify.models import App, Campaign, CampaignStatus, Topic, TopicSubscription, UserProfile

_FINAL = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED, CampaignStatus.FAILED)

# --- selectors ------------------------------------------------------------------------------


def topic_list(app: App) -> QuerySet[Topic]:
    return (
        Topic.objects.filter(app=app)
        .annotate(subscriber_count=Count("subscriptions"))
        .order_by("code")
    )


def topic_find(app: App, code: object) -> Topic | None:
    return Topic.objects.filter(app=app, code=code).first() if isinstance(code, str) else None


def topic_size(topic_id: int | None) -> int:
    return TopicSubscription.objects.filter(topic_id=topic_id).count() if topic_id else 0


def profile_topics(profile: UserProfile) -> list[str]:
    return list(
        TopicSubscription.objects.filter(profile=profile)
        .order_by("topic__code")
        .values_list("topic__code", flat=True)
    )


# --- services -------------------------------------------------------------------------------


def topic_create(app: App, code: str, name: str = "", description: str = "") -> Topic:
    try:
        with transaction.atomic():
            return Topic.objects.create(app=app, code=code, name=name, description=description)
    except IntegrityError:
        raise invalid("code", f"a topic {code!r} exists") from None


def topic_delete(topic: Topic) -> None:
    if Campaign.objects.filter(audience_topic=topic).exclude(status__in=_FINAL).exists():
        raise ApiError(
            "the topic is the audience of a campaign or send still going",
            code="in_use",
            status_code=409,
        )
    topic.delete()


def _topic_or_400(app: App, code: object, field: str = "topic") -> Topic:
    topic = topic_find(app, code) if isinstance(code, str) else None
    if topic is None:
        raise invalid(field, f"unknown topic {code!r}: create it with POST /api/v1/topics")
    return topic


def topic_subscribe(profile: UserProfile, code: object) -> list[str]:
    topic = _topic_or_400(profile.app, code)
    TopicSubscription.objects.get_or_create(topic=topic, profile=profile)
    return profile_topics(profile)


def topic_unsubscribe(profile: UserProfile, code: str) -> list[str]:
    """Idempotent: unsubscribing from a topic one is not subscribed to changes nothing."""
    topic = _topic_or_400(profile.app, code)
    TopicSubscription.objects.filter(topic=topic, profile=profile).delete()
    return profile_topics(profile)
