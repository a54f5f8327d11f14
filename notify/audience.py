"""POST /api/v1/send with an `audience` (a user group or a topic's subscribers).

The audience can be far larger than one call's receivers, so it is not loaded here: the
send becomes a campaign (schedule "now") that notify.campaigns streams in batches, with its
checkpoint, pause/cancel and approval. The approval threshold applies to the resolved count;
opted-out users are skipped at delivery (OPTED_OUT, with the reason in their trace).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from notify.actors import Actor
from notify.campaigns.services import (
    audience_size,
    campaign_create,
    campaign_start,
    campaign_submit,
)
from notify.errors import ApiError, invalid
from notify.holds import approval_needed
from notify.models import App, AudienceKind, Campaign, CampaignStatus, SendRequest, UserGroup
from notify.topics import topic_find
from templates_app.models import MessageTemplate, TemplateStatus
from templates_app.rendering import placeholders
from templates_app.selectors import template_find


@dataclass
class AudienceSend:
    app: App
    audience: Any
    template_ref: int | str
    variables: dict[str, Any]
    priority: str | None = None
    idempotency_key: str | None = None
    request_hash: str = ""


def audience_parse(app: App, audience: Any) -> dict[str, Any]:
    """The campaign audience for `{"group": id or name}` or `{"topic": code}` (400 naming
    the field otherwise)."""
    if (
        not isinstance(audience, dict)
        or len(audience) != 1
        or not {"group", "topic"} & set(audience)
    ):
        raise invalid("audience", 'give exactly one of {"group": id or name} or {"topic": code}')
    if "topic" in audience:
        code = audience["topic"]
        if not isinstance(code, str) or topic_find(app, code) is None:
            raise invalid("audience.topic", f"unknown topic {code!r}")
        return {"type": AudienceKind.TOPIC, "topic": code}
    ref = audience["group"]
    groups = UserGroup.objects.filter(app=app)
    group = None
    if isinstance(ref, int) and not isinstance(ref, bool) and 0 < ref < 2**31:
        group = groups.filter(pk=ref).first()
    elif isinstance(ref, str) and ref:
        group = groups.filter(name=ref).first()
        if group is None and ref.isascii() and ref.isdigit() and int(ref) < 2**31:
            group = groups.filter(pk=int(ref)).first()
    if group is None:
        raise invalid("audience.group", f"unknown user group {ref!r}")
    return {"type": AudienceKind.GROUP, "group": group.pk}


def _template_check(app: App, ref: int | str, variables: dict[str, Any]) -> MessageTemplate:
    """Every receiver shares the call's variables: a missing one would reject them all."""
    template = template_find(MessageTemplate.objects.filter(app=app), ref)
    if template is None:
        raise invalid("template", f"unknown template {ref!r}")
    if template.status != TemplateStatus.ACTIVE:
        raise invalid("template", f"template {template.code!r} is disabled")
    needed = placeholders(template.content)
    for content in (template.locales or {}).values():
        needed |= placeholders(content)
    missing = sorted(needed - set(variables))
    if missing:
        raise invalid("variables", f"missing variables: {', '.join(missing)}")
    return template


def audience_send(call: AudienceSend) -> tuple[dict[str, Any], bool]:
    """(the answer, replayed). A repeated idempotency key answers what the first call did."""
    if call.idempotency_key:
        previous = SendRequest.objects.filter(
            app=call.app, idempotency_key=call.idempotency_key
        ).first()
        hours = settings.TIDINGS_IDEMPOTENCY_HOURS
        if previous is not None and previous.created_at < timezone.now() - timedelta(hours=hours):
            # Expired, as for any send: the key is free for this call.
            SendRequest.objects.filter(pk=previous.pk).update(idempotency_key=None)
            previous = None
        if previous is not None:
            return _replay(call, previous), True
    audience = audience_parse(call.app, call.audience)
    template = _template_check(call.app, call.template_ref, call.variables)
    # Like any send: the template's default priority unless the call gives one.
    call.priority = call.priority or template.default_priority
    try:
        return _create(call, audience), False
    except IntegrityError:
        # A concurrent call with the same idempotency key committed first.
        previous = SendRequest.objects.filter(
            app=call.app, idempotency_key=call.idempotency_key
        ).first()
        if not call.idempotency_key or previous is None:
            raise
        return _replay(call, previous), True


def _create(call: AudienceSend, audience: dict[str, Any]) -> dict[str, Any]:
    actor = Actor(app=call.app)
    with transaction.atomic():
        campaign = campaign_create(
            call.app, actor, name="send", template=call.template_ref, audience=audience,
            variables=call.variables, priority=call.priority,
        )  # fmt: skip
        request = SendRequest.objects.create(
            app=call.app,
            template=campaign.template,
            idempotency_key=call.idempotency_key,
            request_hash=call.request_hash,
            priority=campaign.priority,
        )
        campaign.name = f"send {request.request_id}"
        campaign.origin_request = request
        campaign.save(update_fields=["name", "origin_request", "updated_at"])
        campaign = campaign_submit(campaign, actor)  # the threshold, on the resolved count
        if campaign.status == CampaignStatus.APPROVED:
            campaign = campaign_start(campaign)
    return audience_answer(campaign, request)


def _replay(call: AudienceSend, previous: SendRequest) -> dict[str, Any]:
    if call.request_hash and previous.request_hash and call.request_hash != previous.request_hash:
        raise ApiError(
            "this idempotency key was used for a different request "
            f"(request_id {previous.request_id}); use a new key for a new send",
            code="idempotency_key_reused",
            status_code=422,
            fields={"idempotency_key": ["used before with a different request body"]},
        )
    campaign = Campaign.objects.filter(origin_request=previous).first()
    if campaign is None:
        raise invalid("idempotency_key", "used before for a send without an audience")
    return audience_answer(campaign, previous)


def audience_answer(campaign: Campaign, request: SendRequest) -> dict[str, Any]:
    campaign = Campaign.objects.select_related("audience_group", "audience_topic").get(
        pk=campaign.pk
    )
    if campaign.audience_kind == AudienceKind.TOPIC:
        topic = campaign.audience_topic
        audience = {"topic": {"code": topic.code, "name": topic.name} if topic else None}
    else:
        group = campaign.audience_group
        audience = {"group": {"id": group.pk, "name": group.name} if group else None}  # type: ignore[dict-item]  # mypy infers the topic branch's str values
    resolved = campaign.approved_audience or audience_size(campaign)
    answer: dict[str, Any] = {
        "request_id": str(request.request_id),
        "audience": audience,
        "resolved": resolved,
        "campaign_id": campaign.pk,
        "status": campaign.status,
    }
    if approval_needed(resolved):
        answer["approval"] = (
            "pending" if campaign.status == CampaignStatus.PENDING_APPROVAL else "approved"
        )
    return answer
