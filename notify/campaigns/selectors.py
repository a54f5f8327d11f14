"""Reads for campaigns: scoped lookups and live progress."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, QuerySet

from notify.models import App, Campaign, CampaignBatch, CampaignRun, UserGroup
from tracking.models import Message, MessageState

# Progress buckets over message states (a message counts in every bucket it has passed).
DELIVERED_STATES = (MessageState.DELIVERED, MessageState.READ, MessageState.CLICKED)
SENT_STATES = (MessageState.SENT, MessageState.UNDELIVERED, *DELIVERED_STATES)
FAILED_STATES = (MessageState.FAILED, MessageState.UNDELIVERED, MessageState.EXPIRED)
WAITING_STATES = (
    MessageState.SCHEDULED,
    MessageState.ACCEPTED,
    MessageState.QUEUED,
    MessageState.SENDING,
    MessageState.RETRYING,
    MessageState.NIGHT_DEFERRED,
)


def campaign_list(app: App) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(app=app)
        .select_related("template", "audience_file", "audience_group", "audience_topic")
        .order_by("-id")
    )


def campaign_get(app: App, pk: int) -> Campaign | None:
    return campaign_list(app).filter(pk=pk).first()


def user_group_list(app: App) -> QuerySet[UserGroup]:
    return UserGroup.objects.filter(app=app).annotate(member_count=Count("members")).order_by("id")


def campaign_message_ids(campaign: Campaign, run: CampaignRun | None = None) -> QuerySet:
    """A subquery of the campaign's message ids (of one run when given)."""
    batches = CampaignBatch.objects.filter(request__isnull=False)
    batches = batches.filter(run=run) if run else batches.filter(run__campaign=campaign)
    return Message.objects.filter(request_id__in=batches.values("request_id")).values("id")


def _run_states(campaign: Campaign, run: CampaignRun) -> dict[str, int]:
    """Messages of the run per state. Counting a large run's takes ~1 s per million
    messages, so past TIDINGS_CAMPAIGN_PROGRESS_CACHE_ABOVE the counts are cached for
    TIDINGS_CAMPAIGN_PROGRESS_CACHE_SECONDS: a polling page costs one count per period."""

    def count() -> dict[str, int]:
        return dict(
            Message.objects.filter(id__in=campaign_message_ids(campaign, run))
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )

    if run.accepted <= settings.TIDINGS_CAMPAIGN_PROGRESS_CACHE_ABOVE:
        return count()
    key = f"tidings:campaign-run-states:{run.pk}:{run.started_at.timestamp()}"
    counts: dict[str, int] | None = cache.get_or_set(
        key, count, settings.TIDINGS_CAMPAIGN_PROGRESS_CACHE_SECONDS
    )
    return counts if counts is not None else count()


def campaign_progress(campaign: Campaign) -> dict:
    """The latest run: total, accepted, sent, delivered, failed, and a state breakdown."""
    run = CampaignRun.objects.filter(campaign=campaign).order_by("-number").first()
    if run is None:
        return {"run": None, "total": 0, "processed": 0, "accepted": 0, "rejected": 0,
                "sent": 0, "delivered": 0, "failed": 0, "states": {}, "percent": 0}  # fmt: skip
    states = _run_states(campaign, run)
    total = max(run.total, run.rows_done)
    return {
        "run": run.number,
        "run_status": run.status,
        "total": total,
        "processed": run.rows_done,
        "accepted": run.accepted,
        "rejected": run.rejected,
        "sent": sum(states.get(s, 0) for s in SENT_STATES),
        "delivered": sum(states.get(s, 0) for s in DELIVERED_STATES),
        "failed": sum(states.get(s, 0) for s in FAILED_STATES),
        "waiting": sum(states.get(s, 0) for s in WAITING_STATES),
        "states": states,
        "percent": round(100 * run.rows_done / total, 1) if total else 100.0,
        "problems": run.problems,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
    }
