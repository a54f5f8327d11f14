"""Dead letters and bulk replay: select final messages (FAILED by default) by template,
channel, account, time range and error, and resend each once as a linked copy.

Idempotent by construction: a message that already has a resend (from an earlier replay
or a single resend) is never selected again, and the originals are locked while their
copies are written, so two replays running at once cannot both resend one message. Each
replay, dry runs included, leaves a ReplayAudit row (who, when, the filter, how many)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Left
from django.utils import timezone

from notify.models import App
from notify.validation import int_or_none
from templates_app.selectors import template_ref_q
from tracking.models import ACTIVE_STATES, Message, MessageState, ReplayAudit
from tracking.resend import messages_resend
from tracking.services import failure_reason

# Rows locked and resent per transaction: bounded locks and memory for any selection.
CHUNK = 1000
# States a replay may select: final ones (a message still in flight is not a dead letter).
REPLAYABLE_STATES = tuple(
    s for s in MessageState.values if s not in (*ACTIVE_STATES, MessageState.SCHEDULED)
)


@dataclass
class ReplayFilter:
    template: str = ""  # code or id
    channel: str = ""
    account: str = ""  # account name or id
    state: str = MessageState.FAILED
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until
    error_code: str = ""  # the provider's code: last_error starts with "[code]"
    reason: str = ""  # last_error starts with this (the admin's "Failed messages" groups)
    message_ids: list[str] = field(default_factory=list)  # the admin's "replay selected"

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("since", "until"):
            data[key] = data[key].isoformat() if data[key] else None
        return {k: v for k, v in data.items() if v not in ("", None, [])}


def replay_matches(app_id: int, wanted: ReplayFilter) -> QuerySet[Message]:
    """Every message of the App the filter selects, resent before or not."""
    messages = Message.objects.filter(app_id=app_id)
    if wanted.state:
        messages = messages.filter(state=wanted.state)
    else:  # the admin's selection: any final state
        messages = messages.filter(state__in=REPLAYABLE_STATES)
    if wanted.template:
        messages = messages.filter(template_ref_q(wanted.template))
    if wanted.channel:
        messages = messages.filter(channel=wanted.channel)
    if wanted.account:
        condition = Q(account__name=wanted.account)
        if (pk := int_or_none(wanted.account)) is not None:
            condition |= Q(account_id=pk)
        messages = messages.filter(condition)
    if wanted.since:
        messages = messages.filter(created_at__gte=wanted.since)
    if wanted.until:
        messages = messages.filter(created_at__lt=wanted.until)
    if wanted.error_code:
        messages = messages.filter(last_error__startswith=f"[{wanted.error_code}]")
    if wanted.reason:
        messages = messages.filter(last_error__startswith=wanted.reason)
    if wanted.message_ids:
        messages = messages.filter(message_id__in=wanted.message_ids)
    return messages


def not_yet_resent(messages: QuerySet[Message]) -> QuerySet[Message]:
    return messages.filter(~Exists(Message.objects.filter(resent_from=OuterRef("pk"))))


def messages_replay(
    app: App,
    wanted: ReplayFilter,
    *,
    actor: str,
    dry_run: bool = False,
    ignore_quiet_hours: bool = False,
) -> ReplayAudit:
    """Resend every selected message not resent before (or only count them: dry_run)."""
    now = timezone.now()
    matches = replay_matches(app.pk, wanted)
    matched = matches.count()
    recorded = wanted.as_json()
    if ignore_quiet_hours:
        recorded["ignore_quiet_hours"] = True
    audit = ReplayAudit.objects.create(
        app=app, actor=actor[:200], at=now, filter=recorded, dry_run=dry_run
    )
    if dry_run:
        eligible = not_yet_resent(matches).count()
        ReplayAudit.objects.filter(pk=audit.pk).update(
            matched=matched, resent=eligible, skipped=matched - eligible
        )
        audit.refresh_from_db()
        return audit
    resent, after = 0, 0
    while True:
        with transaction.atomic():
            # Locked, re-checked under the lock: a concurrent replay skips these rows and
            # a later one finds their resends.
            chunk = list(
                not_yet_resent(matches.filter(id__gt=after))
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("id")[:CHUNK]
            )
            if not chunk:
                break
            messages_resend(
                chunk, now, note=f"replay #{audit.pk}", ignore_quiet_hours=ignore_quiet_hours
            )
            resent += len(chunk)
            after = chunk[-1].id
    ReplayAudit.objects.filter(pk=audit.pk).update(
        matched=matched, resent=resent, skipped=max(matched - resent, 0)
    )
    audit.refresh_from_db()
    return audit


def failure_groups(app_id: int | None = None, limit: int = 50) -> list[dict]:
    """FAILED messages not yet resent, grouped by reason: the provider's error code when
    last_error starts with "[code]", else the reason's first 60 characters. Counted by
    the database (per App, template and 60-character prefix), merged here."""
    messages = not_yet_resent(Message.objects.filter(state=MessageState.FAILED))
    if app_id is not None:
        messages = messages.filter(app_id=app_id)
    rows = (
        messages.annotate(prefix=Left("last_error", 60))
        .values("app_id", "app__name", "template__code", "prefix")
        .annotate(n=Count("id"), first=Min("created_at"), last=Max("created_at"))
        .order_by("-n")[:2000]
    )
    groups: dict[tuple[int, str, str], dict] = {}
    for row in rows:
        error = failure_reason(row["prefix"] or "")
        if error.startswith("[") and "]" in error:
            key, kind = error[1 : error.index("]")], "error_code"
        else:
            key, kind = error, "reason"
        group = groups.setdefault(
            (row["app_id"], kind, key),
            {"app_id": row["app_id"], "app": row["app__name"], "kind": kind, "key": key,
             "example": error, "count": 0, "templates": set(), "first": row["first"],
             "last": row["last"]},
        )  # fmt: skip
        group["count"] += row["n"]
        group["templates"].add(row["template__code"])
        group["first"] = min(group["first"], row["first"])
        group["last"] = max(group["last"], row["last"])
    ordered = sorted(groups.values(), key=lambda g: -g["count"])[:limit]
    for group in ordered:
        group["templates"] = sorted(group["templates"])
    return ordered
