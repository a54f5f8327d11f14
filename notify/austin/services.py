"""austin's API translated onto Tidings: the same access pipeline (notify.pipeline), rules,
tracking and idempotency as POST /api/v1/send; only the shapes differ.

- messageTemplateId: the template's `austin_id` first, then its Tidings id.
- messageParam.receiver "a,b": one Tidings message per receiver (austin used one task for
  all of them); `messageId` in the answer is each message's Tidings message_id, so every
  trace lookup (ours or the austin-shaped ones below) works with it.
- businessId: austin's number (template type 20 "realtime" * 10^6 + template id, then
  yyyyMMdd), so /trace/messageTemplate takes what callers stored.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from notify.austin.codes import MAX_RECEIVERS_PER_PARAM, AustinError, Resp
from notify.errors import ApiError
from notify.models import App
from notify.pipeline import Item, SendContext, message_send
from notify.validation import int_or_none
from templates_app.models import MessageTemplate, TemplateStatus
from tracking.models import DailyStat, Message, MessageState
from tracking.recall import RECALLABLE_STATES, messages_recall

# austin's TemplateType.REALTIME: a template called through the API.
REALTIME = 20
_TYPE_FLAG = 1_000_000

# Tidings states with an austin AnchorState: (austin's code, its description).
ANCHORS: dict[str, tuple[int, str]] = {
    MessageState.ACCEPTED: (10, "消息接收成功"),
    MessageState.DISCARDED: (20, "消费被丢弃"),
    MessageState.NIGHT_DROPPED: (22, "夜间屏蔽"),
    MessageState.NIGHT_DEFERRED: (24, "夜间屏蔽(次日早上9点发送)"),
    MessageState.DEDUP_CONTENT: (30, "消息被内容去重"),
    MessageState.DEDUP_FREQUENCY: (40, "消息被频次去重"),
    MessageState.FILTERED_WHITELIST: (50, "白名单过滤"),
    MessageState.SENT: (60, "消息下发成功"),
    MessageState.CLICKED: (64, "消息被点击"),
    MessageState.FAILED: (70, "消息下发失败"),
}


def state_description(state: str) -> str:
    """austin's wording where austin has the state, Tidings' label otherwise."""
    if state in ANCHORS:
        return ANCHORS[state][1]
    return MessageState(state).label if state in MessageState.values else state


# --- templates and ids ---------------------------------------------------------------------


def template_resolve(app: App, raw: Any) -> MessageTemplate:
    """austin_id first, then the Tidings id (A0001 when absent or not a number, A0002 when
    no template answers to it or it cannot send)."""
    if isinstance(raw, bool) or raw in (None, ""):
        raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "messageTemplateId is required")
    if isinstance(raw, str) and (number := int_or_none(raw.strip())) is not None:
        raw = number
    if not isinstance(raw, int):
        raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "messageTemplateId must be a number")
    if not 0 < raw < 2**63:
        raise AustinError(Resp.TEMPLATE_NOT_FOUND, f"messageTemplateId {raw}")
    templates = MessageTemplate.objects.filter(app=app)
    template = templates.filter(austin_id=raw).first() or templates.filter(pk=raw).first()
    if template is None:
        raise AustinError(Resp.TEMPLATE_NOT_FOUND, f"messageTemplateId {raw}")
    return template


def austin_template_id(template: MessageTemplate) -> int:
    return template.austin_id if template.austin_id is not None else template.pk


def business_id(template: MessageTemplate, day: date) -> int:
    return int(f"{REALTIME * _TYPE_FLAG + austin_template_id(template)}{day:%Y%m%d}")


def parse_business_id(app: App, raw: str) -> tuple[MessageTemplate, date]:
    """austin's 16-digit businessId, or a bare template id (meaning today), as austin's
    /trace/messageTemplate takes both."""
    raw = str(raw or "").strip()
    if int_or_none(raw) is None:
        raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "businessId must be a number")
    if len(raw) == 16:
        try:
            day = date(int(raw[8:12]), int(raw[12:14]), int(raw[14:16]))
        except ValueError:
            raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "businessId: bad date") from None
        template_raw = int(raw[1:8])
    else:
        template_raw, day = int(raw), timezone.localdate()
    return template_resolve(app, template_raw), day


def task_info(message_id: Any, biz_id: str, business: int) -> dict[str, Any]:
    """austin's SimpleTaskInfo; bizId falls back to the messageId as in austin."""
    return {
        "bizId": biz_id or str(message_id),
        "messageId": str(message_id),
        "businessId": business,
    }


# --- send -----------------------------------------------------------------------------------


def _items(params: Any) -> list[Item]:
    if not isinstance(params, list) or not params:
        raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "messageParam / messageParamList is empty")
    items: list[Item] = []
    with_receiver = 0
    for number, param in enumerate(params):
        where = f"messageParamList[{number}]"
        if not isinstance(param, dict):
            raise AustinError(Resp.CLIENT_BAD_PARAMETERS, f"{where} must be an object")
        receiver = param.get("receiver")
        if isinstance(receiver, int) and not isinstance(receiver, bool):
            receiver = str(receiver)  # austin (Jackson) took a number as the string
        if receiver is None or (isinstance(receiver, str) and not receiver.strip()):
            continue  # austin drops params without a receiver
        if not isinstance(receiver, str):
            raise AustinError(Resp.CLIENT_BAD_PARAMETERS, f"{where}.receiver must be a string")
        receivers = list(dict.fromkeys(r.strip() for r in receiver.split(",") if r.strip()))
        if len(receiver.split(",")) > MAX_RECEIVERS_PER_PARAM:
            raise AustinError(Resp.TOO_MANY_RECEIVER, f"{where}.receiver")
        variables = param.get("variables") or {}
        if not isinstance(variables, dict):
            raise AustinError(Resp.CLIENT_BAD_PARAMETERS, f"{where}.variables must be an object")
        biz_id = param.get("bizId") or ""
        if isinstance(biz_id, int) and not isinstance(biz_id, bool):
            biz_id = str(biz_id)
        if not isinstance(biz_id, str) or len(biz_id) > 128:
            raise AustinError(
                Resp.CLIENT_BAD_PARAMETERS, f"{where}.bizId must be a string of at most 128"
            )
        with_receiver += 1
        items.extend(Item(r, variables, biz_id, len(items) + i) for i, r in enumerate(receivers))
    if not with_receiver or not items:
        raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "no messageParam has a receiver")
    return items


def austin_send(
    app: App, template_raw: Any, params: Any, idempotency_key: str | None = None
) -> dict[str, Any]:
    template = template_resolve(app, template_raw)
    if template.status != TemplateStatus.ACTIVE:
        raise AustinError(
            Resp.TEMPLATE_NOT_FOUND, f"template {template.code!r} is {template.status}"
        )
    items = _items(params)
    try:
        answer = message_send(
            SendContext(
                app=app, template_ref=template.pk, items=items, idempotency_key=idempotency_key
            )
        )
    except ApiError as error:
        if error.error_code == "too_many_receivers":
            raise AustinError(Resp.TOO_MANY_RECEIVER, str(error.detail)) from None
        if "template" in error.fields:  # e.g. no enabled channel account
            raise AustinError(Resp.SERVICE_ERROR, str(error.detail)) from None
        raise AustinError(Resp.CLIENT_BAD_PARAMETERS, str(error.detail)) from None
    body = answer.body
    business = business_id(template, timezone.localdate())
    msg = Resp.SUCCESS.msg
    if body.get("rejected"):
        reasons = "; ".join(f"{r['receiver']}: {r['reason']}" for r in body["rejected"][:5])
        msg = f"{msg} ({len(body['rejected'])} receiver(s) rejected: {reasons})"
    return {
        "code": Resp.SUCCESS.code,
        "msg": msg,
        "data": [task_info(m["message_id"], m["biz_id"], business) for m in body["messages"]],
    }


# --- recall ---------------------------------------------------------------------------------

# Without message ids austin withdraws "by template": here, what the template sent lately.
RECALL_BY_TEMPLATE_WINDOW = timedelta(hours=24)


def austin_recall(app: App, template_raw: Any, message_ids: Any) -> dict[str, Any]:
    template = template_resolve(app, template_raw)
    if message_ids is not None and not isinstance(message_ids, list):
        raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "recallMessageIds must be a list")
    wanted = []
    for raw in message_ids or []:
        try:
            wanted.append(uuid.UUID(str(raw)))
        except ValueError:
            continue  # not one of ours: nothing to withdraw
    messages = Message.objects.filter(app=app, template=template)
    if message_ids:
        messages = messages.filter(message_id__in=wanted)
    else:
        since = timezone.now() - RECALL_BY_TEMPLATE_WINDOW
        messages = messages.filter(created_at__gte=since, state__in=RECALLABLE_STATES)
    found = list(messages.order_by("id"))
    outcome = messages_recall(found)
    business = business_id(template, timezone.localdate())
    data = [task_info(m.message_id, m.biz_id, business) for m in outcome.recalled]
    problems = [*outcome.not_recallable, *outcome.failed]
    if found and not outcome.recalled:
        reasons = sorted({reason for _, reason in problems})
        return {"code": Resp.FAIL.code, "msg": f"{Resp.FAIL.msg}: {'; '.join(reasons)}", "data": []}
    msg = Resp.SUCCESS.msg
    if problems:
        msg = f"{msg} ({len(problems)} not withdrawn: {problems[0][1]})"
    elif not found:
        msg = f"{msg} (no message to withdraw)"
    return {"code": Resp.SUCCESS.code, "msg": msg, "data": data}


# --- trace ----------------------------------------------------------------------------------


def _timeline_items(messages: list[Message]) -> list[dict[str, Any]]:
    """austin's UserTimeLineVo items: one per message, its steps as
    "yyyy-MM-dd HH:mm:ss:<description>==>" chained."""
    items = []
    for message in messages:
        steps = "".join(
            f"{timezone.localtime(e.at):%Y-%m-%d %H:%M:%S}:{state_description(e.state)}==>"
            for e in message.trace_events()
        )
        items.append(
            {
                "businessId": str(
                    business_id(message.template, timezone.localdate(message.created_at))
                ),
                "title": message.template.name,
                "detail": steps,
                "sendType": message.channel,
                "creator": "",
                "messageId": str(message.message_id),
            }
        )
    return items


def _success(data: Any) -> dict[str, Any]:
    # austin's web controllers answer in BasicResultVO: "status", not "code".
    return {"status": Resp.SUCCESS.code, "msg": Resp.SUCCESS.msg, "data": data}


def trace_message(app: App, message_id: Any) -> dict[str, Any]:
    try:
        wanted = uuid.UUID(str(message_id or ""))
    except ValueError:
        return _success({"items": []})
    messages = list(
        Message.objects.filter(app=app, message_id=wanted)
        .select_related("template")
        .prefetch_related("events")
    )
    return _success({"items": _timeline_items(messages)})


def trace_user(app: App, receiver: Any) -> dict[str, Any]:
    """The receiver's messages of today (austin: 当天), newest first."""
    if not isinstance(receiver, str) or not receiver.strip():
        return _success({"items": []})
    start = timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time()))
    messages = list(
        Message.objects.filter(app=app, receiver=receiver.strip(), created_at__gte=start)
        .select_related("template")
        .prefetch_related("events")
        .order_by("-id")[:200]
    )
    return _success({"items": _timeline_items(messages)})


def trace_message_template(app: App, raw_business_id: Any) -> dict[str, Any]:
    """austin's EchartsVo: how many messages of the template reached each step that day."""
    template, day = parse_business_id(app, raw_business_id)
    counts: Counter[str] = Counter()
    rows = (
        DailyStat.objects.filter(app=app, template=template, day=day)
        .values("state")
        .annotate(n=Sum("count"))
    )
    for row in rows:
        counts[row["state"]] += row["n"]
    order = sorted(counts, key=lambda s: (ANCHORS.get(s, (999, ""))[0], s))
    return _success(
        {
            "title": {"text": f"【{template.name}】在{day:%Y年%m月%d日}的下发情况："},
            "tooltip": {"color": None},
            "legend": {"data": ["人数"]},
            "xAxis": {"data": [state_description(s) for s in order]},
            "yAxis": {"type": None},
            "series": [{"name": "人数", "type": "bar", "data": [counts[s] for s in order]}],
        }
    )
