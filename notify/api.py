"""POST /api/v1/send. Top-level fields go through a serializer; the (up to 100k) receiver
items are checked by a plain loop, which is ~50x faster than a nested serializer."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notify.api_fields import TemplateRefField, json_bytes
from notify.audience import AudienceSend, audience_send
from notify.authentication import request_app
from notify.errors import ApiError, invalid
from notify.models import Priority, Scope
from notify.pipeline import Item, SendContext, message_send
from notify.validation import int_or_none
from templates_app.locales import TAG_HELP, locale_canonical


class SendItemSerializer(serializers.Serializer):
    receiver = serializers.CharField(
        help_text="Email, phone, user id… as the template's receiver type says."
    )
    variables = serializers.DictField(
        required=False, help_text="Values for the template's {$placeholders}."
    )
    biz_id = serializers.CharField(required=False, max_length=128, help_text="Your own reference.")
    locale = serializers.CharField(
        required=False,
        max_length=35,
        help_text=f"This receiver's locale ({TAG_HELP}): picks the template's `locales` "
        "variant, before the call's `locale` and the receiver's profile.",
    )


class AudienceSerializer(serializers.Serializer):
    group = serializers.CharField(
        required=False,
        help_text="A user group's id or name (POST /api/v1/user-groups): every member, by "
        "profile external id.",
    )
    topic = serializers.CharField(
        required=False,
        help_text="A topic's code (POST /api/v1/topics): every profile subscribed to it.",
    )


class SendInputSerializer(serializers.Serializer):
    template = TemplateRefField(help_text="Template id or code.")
    audience = AudienceSerializer(
        required=False,
        help_text="Instead of `messages`/`receivers`: exactly one of `group` or `topic`. The "
        "audience is fanned out in batches (a campaign, `campaign_id` in the answer); the "
        "approval threshold applies to its size; opted-out users end OPTED_OUT with the reason.",
    )
    messages = SendItemSerializer(many=True, required=False)
    receivers = serializers.ListField(child=serializers.CharField(), required=False)
    variables = serializers.DictField(required=False, help_text="Shared by every receiver.")
    locale = serializers.CharField(
        required=False,
        max_length=35,
        help_text=f"Locale for every receiver without their own ({TAG_HELP}); wins over the "
        "receivers' profile locales. The variant sent is recorded as each message's `locale`.",
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    idempotency_key = serializers.CharField(required=False, max_length=200)
    ttl = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=30 * 24 * 3600,
        help_text="Seconds; never sent after.",
    )
    send_at = serializers.DateTimeField(
        required=False,
        help_text="ISO 8601 with a time zone: hold the send until then (cancellable until it "
        "starts: DELETE /api/v1/requests/{request_id}).",
    )

    def validate_locale(self, value: str) -> str:
        if locale_canonical(value) is None:
            raise serializers.ValidationError(f"not a language tag: give {TAG_HELP}")
        return value

    def validate_send_at(self, value: datetime) -> datetime:
        raw = self.initial_data.get("send_at")
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if parsed is not None and parsed.tzinfo is None:
            raise serializers.ValidationError("give a time zone, e.g. 2030-01-01T09:00:00+08:00")
        return value


class SendOutputItemSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    receiver = serializers.CharField()
    biz_id = serializers.CharField()


class RejectedSerializer(serializers.Serializer):
    receiver = serializers.CharField()
    reason = serializers.CharField()


class SendOutputSerializer(serializers.Serializer):
    request_id = serializers.UUIDField()
    accepted = serializers.IntegerField()
    messages = SendOutputItemSerializer(many=True)
    rejected = RejectedSerializer(many=True)


class AudienceSendOutputSerializer(serializers.Serializer):
    request_id = serializers.UUIDField(
        help_text="GET /api/v1/messages?request_id=… lists the messages of every batch."
    )
    audience = serializers.DictField(
        help_text='{"group": {"id": …, "name": …}} or {"topic": {"code": …, "name": …}}'
    )
    resolved = serializers.IntegerField(help_text="Members or subscribers when the call was made.")
    campaign_id = serializers.IntegerField(
        help_text="GET /api/v1/campaigns/{campaign_id}: progress, skipped users and why."
    )
    status = serializers.CharField(
        help_text="running, or pending_approval over TIDINGS_APPROVAL_THRESHOLD (it starts "
        "once a staff user approves it)."
    )
    approval = serializers.CharField(
        required=False, help_text="pending or approved: only over the approval threshold."
    )


SEND_ANSWER = PolymorphicProxySerializer(
    component_name="SendAnswer",
    serializers=[SendOutputSerializer, AudienceSendOutputSerializer],
    resource_type_field_name=None,
)


# One encoder for all calls: json.dumps with options builds a new one each time, which
# dominated the per-message size check of a 100,000-receiver send.
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _over(value: dict[str, Any], limit: int) -> bool:
    """Whether the variables' compact JSON is over `limit` bytes. A flat object of short
    scalars (nearly every send) is decided by an upper bound, without encoding it: a
    character takes at most 6 bytes in JSON (an escape like \\u0001), a small number 20."""
    bound = 2
    for key, item in value.items():
        if isinstance(item, str):
            bound += 6 * (len(key) + len(item)) + 6
        elif (
            item is None
            or isinstance(item, bool | float)
            or (isinstance(item, int) and item.bit_length() < 64)
        ):
            bound += 6 * len(key) + 26
        else:
            break
    else:
        if bound <= limit:
            return False
    text = _compact.encode(value)
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit)


def _too_big(field: str, limit: int) -> ApiError:
    return ApiError(
        f"{field}: at most {limit} bytes of JSON per message",
        code="variables_too_large",
        status_code=413,
        fields={field: [f"at most {limit} bytes of JSON per message"]},
    )


def request_hash(data: dict[str, Any]) -> str:
    """What the call asks for, independent of key order and of the idempotency key."""
    content = {k: v for k, v in data.items() if k != "idempotency_key"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_items(
    data: dict[str, Any], limit: int, max_variables: int, body_bytes: int | None = None
) -> list[Item]:
    """`body_bytes`: the request's size; when it is under `max_variables` no message can
    be over it, and the per-message size check is skipped."""
    messages, receivers = data.get("messages"), data.get("receivers")
    if messages is not None and receivers is not None:
        raise invalid("messages", "give either 'messages' or 'receivers', not both")
    shared = data.get("variables") or {}
    if not isinstance(shared, dict):
        raise invalid("variables", "must be an object")
    check_sizes = body_bytes is None or body_bytes > max_variables
    shared_bytes = json_bytes(shared) if check_sizes and shared else 0
    if shared_bytes > max_variables:
        raise _too_big("variables", max_variables)
    items = messages if messages is not None else receivers
    if items is None:
        raise invalid("messages", "give at least one receiver in 'messages' or 'receivers'")
    field = "messages" if messages is not None else "receivers"
    if not isinstance(items, list):
        raise invalid(field, "must be a list")
    if len(items) > limit:
        raise ApiError(
            f"at most {limit} receivers per call, got {len(items)}",
            code="too_many_receivers",
            status_code=413,
            fields={field: [f"at most {limit} receivers per call"]},
        )
    parsed: list[Item] = []
    if receivers is not None:
        for index, receiver in enumerate(receivers):
            if not isinstance(receiver, str):
                raise invalid(f"receivers[{index}]", "must be a string")
            parsed.append(Item(receiver.strip(), shared, "", index))
        return parsed
    for index, entry in enumerate(items):  # messages (receivers returned above)
        if not isinstance(entry, dict):
            raise invalid(f"messages[{index}]", "must be an object with a 'receiver'")
        receiver = entry.get("receiver")
        if not isinstance(receiver, str):
            raise invalid(f"messages[{index}].receiver", "required, a string")
        variables = entry.get("variables")
        if variables is None:
            variables = shared
        elif not isinstance(variables, dict):
            raise invalid(f"messages[{index}].variables", "must be an object")
        else:
            if check_sizes and variables and _over(variables, max_variables - shared_bytes):
                raise _too_big(f"messages[{index}].variables", max_variables)
            if shared:
                variables = {**shared, **variables}
        biz_id = entry.get("biz_id", "")
        if isinstance(biz_id, int) and not isinstance(biz_id, bool):
            biz_id = str(biz_id)
        if not isinstance(biz_id, str) or len(biz_id) > 128:
            raise invalid(f"messages[{index}].biz_id", "must be a string of at most 128 characters")
        parsed.append(Item(receiver.strip(), variables, biz_id, index, _locale(entry, index)))
    return parsed


def _locale(entry: dict[str, Any], index: int) -> str:
    locale = entry.get("locale")
    if locale is None or locale == "":
        return ""
    if locale_canonical(locale) is None:
        raise invalid(f"messages[{index}].locale", f"not a language tag: give {TAG_HELP}")
    return locale


def _audience_post(
    data: dict[str, Any], options: dict[str, Any], idempotency_key: str | None
) -> Response:
    """A send to a group or topic: fanned out as a campaign (notify.audience)."""
    for name in ("messages", "receivers", "send_at", "locale"):
        if name in data:
            problem = (
                "the receivers' profile locales are used with an audience"
                if name == "locale"
                else "not with an 'audience' (use a campaign for a later send)"
                if name == "send_at"
                else "give either an 'audience' or receivers, not both"
            )
            raise invalid(name, problem)
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise invalid("variables", "must be an object")
    if json_bytes(variables) > settings.TIDINGS_MAX_VARIABLES_BYTES:
        raise _too_big("variables", settings.TIDINGS_MAX_VARIABLES_BYTES)
    answer, replayed = audience_send(
        AudienceSend(
            app=options["app"],
            audience=data["audience"],
            template_ref=options["template"],
            variables=variables,
            priority=options.get("priority"),
            idempotency_key=idempotency_key,
            request_hash=request_hash(data) if idempotency_key else "",
        )
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(answer, status=status.HTTP_202_ACCEPTED, headers=headers)


class SendView(APIView):
    required_scope = Scope.SEND

    @extend_schema(
        operation_id="send",
        request=SendInputSerializer,
        responses={202: SEND_ANSWER},
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)
        ],
        examples=[
            OpenApiExample(
                "One receiver",
                value={
                    "template": "welcome",
                    "messages": [{"receiver": "ada@example.com", "variables": {"name": "Ada"}}],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Per-receiver locale",
                value={
                    "template": "welcome",
                    "locale": "en",
                    "messages": [
                        {"receiver": "user:42", "variables": {"name": "Ada"}},
                        {"receiver": "li@example.com", "locale": "zh-CN"},
                    ],
                    "variables": {"name": "friend"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "To a group",
                value={
                    "template": "welcome",
                    "audience": {"group": "beta-testers"},
                    "variables": {"name": "friend"},
                },
                request_only=True,
            ),  # fmt: skip
            OpenApiExample(
                "To a topic",
                value={"template": "digest", "audience": {"topic": "product-news"}},
                request_only=True,
            ),
            OpenApiExample(
                "Audience answer",
                value={
                    "request_id": "5f0c4c1e-8d9b-4a51-9a43-1f1c2b6f8e10",
                    "audience": {"group": {"id": 3, "name": "beta-testers"}},
                    "resolved": 10000,
                    "campaign_id": 12,
                    "status": "running",
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, dict):
            raise invalid("request", "the body must be a JSON object")
        options = SendInputSerializer(
            data={
                k: v
                for k, v in data.items()
                if k in ("template", "priority", "idempotency_key", "ttl", "send_at", "locale")
            }
        )
        options.is_valid(raise_exception=True)
        header_key = request.headers.get("Idempotency-Key")
        body_key = options.validated_data.get("idempotency_key")
        if header_key and body_key and header_key != body_key:
            raise invalid("idempotency_key", "differs from the Idempotency-Key header")
        idempotency_key = (header_key or body_key or "").strip() or None
        if idempotency_key and len(idempotency_key) > 200:
            raise invalid("idempotency_key", "at most 200 characters")
        if "audience" in data:
            return _audience_post(
                data, {**options.validated_data, "app": request.auth}, idempotency_key
            )
        length = int_or_none(request.META.get("CONTENT_LENGTH") or "")
        items = _parse_items(
            data, settings.TIDINGS_MAX_RECEIVERS, settings.TIDINGS_MAX_VARIABLES_BYTES, length
        )
        answer = message_send(
            SendContext(
                app=request_app(request),
                template_ref=options.validated_data["template"],
                items=items,
                priority=options.validated_data.get("priority"),
                idempotency_key=idempotency_key,
                ttl_seconds=options.validated_data.get("ttl"),
                send_at=options.validated_data.get("send_at"),
                request_hash=request_hash(data) if idempotency_key else "",
                locale=options.validated_data.get("locale", ""),
            )
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return Response(answer.body, status=status.HTTP_202_ACCEPTED, headers=headers)
