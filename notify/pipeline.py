"""The access side of a send: a chain of small named steps over one SendContext.

pre-check -> load template -> resolve account -> render -> check receivers -> persist
-> enqueue after commit (austin's pre-check / assemble / after-check / send-mq chain).
A step raises ApiError to stop the request; nothing is written before `persist`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_app.models import ChannelAccount
from notify.errors import ApiError, invalid
from notify.holds import approval_needed, hold_answer, send_hold_create
from notify.localize import choose_locales, messages_locale_record
from notify.models import App, SendRequest
from notify.profiles import USER_PREFIX, profiles_by_external_id
from notify.queueing import enqueue_accepted
from templates_app.locales import locale_content
from templates_app.models import MessageTemplate, TemplateStatus
from templates_app.receivers import receiver_problem
from templates_app.rendering import missing_variables, placeholders, renderer
from templates_app.selectors import template_find
from tracking.models import Message, MessageState, new_message_ids
from tracking.services import EventRow, events_record, messages_insert

logger = logging.getLogger(__name__)


@dataclass
class Item:
    receiver: str
    variables: dict[str, Any]
    biz_id: str
    index: int
    # An explicit locale (a `messages` entry's, a crowd file's column); choose_locales sets
    # it to the template variant chosen ("" for the default content).
    locale: str = ""


@dataclass
class SendContext:
    app: App
    template_ref: int | str
    items: list[Item]
    priority: str | None = None
    idempotency_key: str | None = None
    ttl_seconds: int | None = None
    now: datetime = field(default_factory=timezone.now)
    template: MessageTemplate | None = None
    account: ChannelAccount | None = None
    contents: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    request: SendRequest | None = None
    message_ids: list[int] = field(default_factory=list)
    public_ids: list[str] = field(default_factory=list)  # text UUIDs (new_message_ids)
    # Campaigns: hold until this time (persisted SCHEDULED; a beat task releases it).
    send_at: datetime | None = None
    # False: answer counts only, no per-message list (campaign batches of thousands).
    respond: bool = True
    # The caller was approved already (a campaign): no approval hold over the threshold.
    pre_approved: bool = False
    # SHA-256 of the call's content (notify.api.request_hash); "" when not checked.
    request_hash: str = ""
    # The call's `locale`: for every receiver without its own (before their profile's).
    locale: str = ""

    # What the steps fill in, in their order: these fail loudly if one runs out of order.
    @property
    def loaded_template(self) -> MessageTemplate:
        assert self.template is not None, "load_template runs first"
        return self.template

    @property
    def chosen_account(self) -> ChannelAccount:
        assert self.account is not None, "resolve_account runs first"
        return self.account

    @property
    def lane_priority(self) -> str:
        assert self.priority is not None, "load_template sets the default priority"
        return self.priority

    @property
    def saved_request(self) -> SendRequest:
        assert self.request is not None, "persist runs first"
        return self.request


@dataclass
class SendAnswer:
    body: dict[str, Any]
    replayed: bool = False


# --- steps ----------------------------------------------------------------------------------


def pre_check(ctx: SendContext) -> None:
    if not ctx.items:
        raise invalid("messages", "give at least one receiver in 'messages' or 'receivers'")
    limit = settings.TIDINGS_MAX_RECEIVERS
    if len(ctx.items) > limit:
        raise ApiError(
            f"at most {limit} receivers per call, got {len(ctx.items)}",
            code="too_many_receivers",
            status_code=413,
            fields={"messages": [f"at most {limit} receivers per call"]},
        )


def load_template(ctx: SendContext) -> None:
    templates = MessageTemplate.objects.filter(app=ctx.app).select_related("channel_account")
    ref = ctx.template_ref
    template = template_find(templates, ref)
    if template is None:
        raise invalid("template", f"unknown template {ref!r}")
    if template.status != TemplateStatus.ACTIVE:
        raise invalid("template", f"template {template.code!r} is disabled")
    ctx.template = template
    ctx.priority = ctx.priority or template.default_priority


def resolve_account(ctx: SendContext) -> None:
    template = ctx.loaded_template
    account = template.channel_account
    if account is None:
        account = (
            ChannelAccount.objects.filter(app=ctx.app, channel=template.channel, enabled=True)
            .order_by("id")
            .first()
        )
        if account is None:
            raise invalid(
                "template", f"no enabled channel account for channel {template.channel!r}"
            )
    elif not account.enabled:
        raise invalid("template", f"channel account {account.name!r} is disabled")
    ctx.account = account


def render_content(ctx: SendContext) -> None:
    """Fill placeholders; receivers whose variables are incomplete are rejected by name."""
    template = ctx.loaded_template
    # The variant of each receiver (choose_locales): only `content` for most templates.
    variants = {key: locale_content(template, key) for key in {i.locale for i in ctx.items}}
    needs = {key: placeholders(content) for key, content in variants.items()}
    fills = {key: renderer(content) for key, content in variants.items()}
    shared_cache: dict[tuple[int, str], dict[str, Any]] = {}
    kept: list[Item] = []
    for item in ctx.items:
        content, required, fill = variants[item.locale], needs[item.locale], fills[item.locale]
        missing = missing_variables(required, item.variables)
        if missing:
            ctx.rejected.append(
                {"receiver": item.receiver, "reason": f"missing variables: {', '.join(missing)}"}
            )
            continue
        # Receivers sharing one variables dict (the "receivers" form) share one rendering.
        key = (id(item.variables), item.locale)
        rendered = shared_cache.get(key)
        if rendered is None:
            rendered = fill(item.variables) if required else content
            shared_cache[key] = rendered
        kept.append(item)
        ctx.contents.append(rendered)
    _stop_if_none_left(ctx, kept, "variables")
    ctx.items = kept


def resolve_profiles(ctx: SendContext) -> None:
    """`user:<id>` receivers become the profile's address for the template's channel."""
    wanted = {
        i.receiver[len(USER_PREFIX) :] for i in ctx.items if i.receiver.startswith(USER_PREFIX)
    }
    if not wanted:
        return
    channel = ctx.loaded_template.channel
    profiles = profiles_by_external_id(ctx.app, wanted)
    kept_items, kept_contents = [], []
    for item, content in zip(ctx.items, ctx.contents, strict=True):
        if item.receiver.startswith(USER_PREFIX):
            user = item.receiver[len(USER_PREFIX) :]
            profile = profiles.get(user)
            address = profile.address_for(channel) if profile else ""
            if not address:
                reason = (
                    f"user {user!r} has no {channel} address in their profile"
                    if profile
                    else f"unknown user {user!r}: no profile with this id"
                )
                ctx.rejected.append({"receiver": item.receiver, "reason": reason})
                continue
            item.receiver = address
        kept_items.append(item)
        kept_contents.append(content)
    _stop_if_none_left(ctx, kept_items, "receiver")
    ctx.items, ctx.contents = kept_items, kept_contents


def check_receivers(ctx: SendContext) -> None:
    receiver_type = ctx.loaded_template.receiver_type
    kept_items, kept_contents = [], []
    for item, content in zip(ctx.items, ctx.contents, strict=True):
        problem = receiver_problem(receiver_type, item.receiver)
        if problem:
            ctx.rejected.append({"receiver": item.receiver, "reason": problem})
            continue
        kept_items.append(item)
        kept_contents.append(content)
    _stop_if_none_left(ctx, kept_items, "receiver")
    ctx.items, ctx.contents = kept_items, kept_contents


def persist(ctx: SendContext) -> None:
    """The request and one row per receiver, in one transaction. Their ACCEPTED events are
    counted (stats, callbacks) but not stored: the trace derives them from created_at."""
    template, now, priority = ctx.loaded_template, ctx.now, ctx.lane_priority
    account = ctx.chosen_account
    # No ttl given: the message type's default (verification codes go stale in minutes).
    ttl = ctx.ttl_seconds or settings.TIDINGS_DEFAULT_TTL_SECONDS.get(template.message_type)
    # Held: a future send_at, or over the approval threshold (notify.holds).
    send_at = ctx.send_at if ctx.send_at and ctx.send_at > now else None
    needs_approval = not ctx.pre_approved and approval_needed(len(ctx.items))
    held = bool(send_at or needs_approval)
    state, queued_at = (MessageState.SCHEDULED, None) if held else (MessageState.QUEUED, now)
    expires_at = (send_at or now) + timedelta(seconds=ttl) if ttl else None
    with transaction.atomic():
        ctx.request = request = SendRequest.objects.create(
            app=ctx.app,
            template=template,
            idempotency_key=ctx.idempotency_key,
            request_hash=ctx.request_hash,
            priority=priority,
            accepted_count=len(ctx.items),
            rejected_count=len(ctx.rejected),
            rejected=ctx.rejected,
        )
        ctx.public_ids = new_message_ids(len(ctx.items))
        shared = {
            "app_id": ctx.app.pk, "request_id": request.pk, "template_id": template.pk,
            "channel": template.channel, "account_id": account.pk, "priority": priority,
            "state": state, "attempts": 0, "last_error": "", "provider_message_id": "",
            "created_at": now, "updated_at": now, "queued_at": queued_at, "expires_at": expires_at,
        }  # fmt: skip
        rows = [
            (public_id, item.receiver, item.biz_id, item.variables, content)
            for public_id, item, content in zip(
                ctx.public_ids, ctx.items, ctx.contents, strict=True
            )
        ]
        ctx.message_ids = messages_insert(shared, rows)
        if template.locales:
            messages_locale_record(ctx.message_ids, ctx.items, now)
        meta = (ctx.app.pk, template.pk, template.channel, priority)
        if held:
            detail = (
                f"send at {send_at.isoformat()}"
                if send_at and not needs_approval
                else "waiting for approval"
            )
            events_record(
                (EventRow(pk, state, now, detail) for pk in ctx.message_ids), shared_meta=meta
            )
            send_hold_create(request, len(ctx.items), send_at, needs_approval)
            return
        events_record(
            (EventRow(pk, MessageState.ACCEPTED, now) for pk in ctx.message_ids),
            shared_meta=meta,
            store=False,
        )
        transaction.on_commit(
            partial(enqueue_accepted, request.pk, ctx.message_ids, template.channel, priority)
        )


STEPS: list[Callable[[SendContext], None]] = [
    pre_check,
    load_template,
    resolve_account,
    choose_locales,
    render_content,
    resolve_profiles,
    check_receivers,
    persist,
]


def _stop_if_none_left(ctx: SendContext, kept: list, field_name: str) -> None:
    if kept or not ctx.rejected:
        return
    reasons = sorted({r["reason"] for r in ctx.rejected})
    name = "messages" if len(ctx.rejected) > 1 else f"messages[0].{field_name}"
    raise ApiError(
        f"no receiver can be sent to: {reasons[0]}",
        code="invalid_request",
        fields={name: reasons},
    )


# --- after commit ---------------------------------------------------------------------------


# --- entry point ----------------------------------------------------------------------------


def message_send(ctx: SendContext) -> SendAnswer:
    """Run the chain; a repeated idempotency key answers what the first call answered."""
    if ctx.idempotency_key:
        previous = _previous_request(ctx)
        if previous is not None:
            return _replay(ctx, previous)
    try:
        for step in STEPS:
            step(ctx)
    except IntegrityError:
        # A concurrent call with the same idempotency key committed first.
        previous = _previous_request(ctx) if ctx.idempotency_key else None
        if previous is None:
            raise
        return _replay(ctx, previous)
    body = {
        "request_id": str(ctx.saved_request.request_id),
        "accepted": len(ctx.items),
        "messages": [
            {"message_id": public_id, "receiver": item.receiver, "biz_id": item.biz_id}
            for public_id, item in zip(ctx.public_ids, ctx.items, strict=True)
        ]
        if ctx.respond
        else [],
        "rejected": ctx.rejected,
    }
    if ctx.send_at or (not ctx.pre_approved and approval_needed(len(ctx.items))):
        body.update(hold_answer(ctx.saved_request))
    return SendAnswer(body)


def _replay(ctx: SendContext, previous: SendRequest) -> SendAnswer:
    """The first call's answer, if this call asks for the same; a key reused for another
    send is refused rather than silently dropping that send."""
    if ctx.request_hash and previous.request_hash and ctx.request_hash != previous.request_hash:
        raise ApiError(
            "this idempotency key was used for a different request "
            f"(request_id {previous.request_id}); use a new key for a new send",
            code="idempotency_key_reused",
            status_code=422,
            fields={"idempotency_key": ["used before with a different request body"]},
        )
    return SendAnswer(answer_for(previous, messages=ctx.respond), replayed=True)


def _previous_request(ctx: SendContext) -> SendRequest | None:
    previous = SendRequest.objects.filter(app=ctx.app, idempotency_key=ctx.idempotency_key).first()
    if previous is None:
        return None
    if previous.created_at < ctx.now - timedelta(hours=settings.TIDINGS_IDEMPOTENCY_HOURS):
        # Expired: free the key for this call.
        SendRequest.objects.filter(pk=previous.pk).update(idempotency_key=None)
        return None
    return previous


def answer_for(request: SendRequest, *, messages: bool = True) -> dict[str, Any]:
    rows: Iterable[tuple[UUID, str, str]] = (
        Message.objects.filter(request=request)
        .order_by("id")
        .values_list("message_id", "receiver", "biz_id")
        if messages
        else []
    )
    return {
        "request_id": str(request.request_id),
        "accepted": request.accepted_count,
        "messages": [
            {"message_id": str(message_id), "receiver": receiver, "biz_id": biz_id}
            for message_id, receiver, biz_id in rows
        ],
        "rejected": request.rejected,
        **hold_answer(request),
    }
