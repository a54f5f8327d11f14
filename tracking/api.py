from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.models import ChannelAccount
from channels_app.providers.egress import validate_egress_url
from channels_app.secrets import url_mask, url_unmask
from config.pagination import IdCursorPagination
from notify.errors import ApiError, invalid
from notify.models import Priority, Scope, SendRequest
from notify.validation import day_or_error, int_or_none, utc_or_error
from tracking.models import CallbackEndpoint, Message, MessageEvent, MessageState
from tracking.recall import messages_recall
from tracking.receipts.base import receipt_url
from tracking.receipts.push import push_signed
from tracking.replay import REPLAYABLE_STATES, ReplayFilter, messages_replay
from tracking.resend import NotResendable, message_resend
from tracking.selectors import (
    StatsFilter,
    message_get,
    message_list,
    receiver_messages,
    request_pks,
    stats_rows,
    stats_totals,
)


class MessageEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageEvent
        fields = ["state", "at", "detail"]


class MessageSerializer(serializers.ModelSerializer):
    request_id = serializers.UUIDField(source="request.request_id")
    template = serializers.CharField(source="template.code")
    locale = serializers.CharField(
        read_only=True,
        help_text='The template variant sent: a key of its `locales` (e.g. "zh-CN"), or "" '
        "for its default content.",
    )

    class Meta:
        model = Message
        fields = [
            "message_id", "request_id", "template", "channel", "receiver", "biz_id", "priority",
            "locale", "state", "attempts", "last_error", "provider_message_id", "created_at", "updated_at",
            "queued_at", "sent_at", "expires_at", "next_attempt_at",
        ]  # fmt: skip


class MessageTraceSerializer(MessageSerializer):
    """A message with its final state and full trace (no content)."""

    events = MessageEventSerializer(many=True, source="trace_events")
    resent_from = serializers.SlugRelatedField(
        slug_field="message_id", read_only=True, allow_null=True
    )

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "resent_from", "events"]


class MessageDetailSerializer(MessageTraceSerializer):
    resends = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = [
            *MessageSerializer.Meta.fields, "variables", "content", "resent_from", "resends",
            "events",
        ]  # fmt: skip

    def get_resends(self, message: Message) -> list[str]:
        return [str(i) for i in message.resends.order_by("id").values_list("message_id", flat=True)]


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601, turned to UTC here: PostgreSQL refuses offsets past ±15:59 (a 500)."""

    def __init__(self, *args, param_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.param_name = param_name

    def filter(self, qs, value):
        if value is not None and timezone.is_aware(value):
            value = utc_or_error(self.param_name, value)
        return super().filter(qs, value)


class MessageFilter(django_filters.FilterSet):
    receiver = django_filters.CharFilter()
    template = django_filters.CharFilter(method="filter_template", help_text="Template code or id.")
    state = django_filters.ChoiceFilter(choices=MessageState.choices)
    biz_id = django_filters.CharFilter()
    request_id = django_filters.UUIDFilter(
        method="filter_request",
        help_text="A send's request_id; for a send to an audience, the messages of all its batches.",
    )
    created_after = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="gte", param_name="created_after"
    )
    created_before = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="lt", param_name="created_before"
    )

    class Meta:
        model = Message
        fields = [
            "receiver",
            "template",
            "state",
            "biz_id",
            "request_id",
            "created_after",
            "created_before",
        ]

    def filter_request(self, queryset, name, value):
        return queryset.filter(request_id__in=request_pks(value))

    def filter_template(self, queryset, name, value):
        condition = Q(template__code=value)
        if (pk := int_or_none(value)) is not None:
            condition |= Q(template_id=pk)
        return queryset.filter(condition)


class ResendInputSerializer(serializers.Serializer):
    ignore_quiet_hours = serializers.BooleanField(
        default=False,
        help_text="Send even in the receiver's quiet hours (opt-outs and discard still apply).",
    )


class ReplayInputSerializer(serializers.Serializer):
    template = serializers.CharField(required=False, help_text="Template code or id.")
    channel = serializers.CharField(required=False)
    account = serializers.CharField(required=False, help_text="Channel account name or id.")
    # A CharField, not a ChoiceField: the OpenAPI schema keeps one MessageState enum.
    state = serializers.CharField(
        default=MessageState.FAILED,
        help_text="A final state (FAILED, EXPIRED, UNDELIVERED, …); FAILED unless given.",
    )
    since = serializers.DateTimeField(required=False, help_text="created_at >= since")
    until = serializers.DateTimeField(required=False, help_text="created_at < until")
    error_code = serializers.CharField(
        required=False, help_text='The provider\'s error code (last_error starts with "[code]").'
    )
    reason = serializers.CharField(required=False, help_text="last_error starts with this.")
    dry_run = serializers.BooleanField(default=False, help_text="Only count; send nothing.")
    ignore_quiet_hours = serializers.BooleanField(
        default=False, help_text="Send the resends even in the receivers' quiet hours."
    )

    def validate_state(self, value: str) -> str:
        if value not in REPLAYABLE_STATES:
            raise serializers.ValidationError(
                f"{value!r} is not a final state; give one of {', '.join(REPLAYABLE_STATES)}"
            )
        return value

    def validate(self, data):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise serializers.ValidationError({"until": ["must be after since"]})
        return data


class ReplayOutputSerializer(serializers.Serializer):
    replay_id = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    matched = serializers.IntegerField(help_text="Messages the filter selects.")
    resent = serializers.IntegerField(
        help_text="New linked resends (dry run: how many would be made)."
    )
    skipped = serializers.IntegerField(help_text="Matched but resent before: not sent again.")
    filter = serializers.DictField()


def api_actor(request) -> str:
    """Who called: the API key's public prefix (never the secret)."""
    header = request.headers.get("Authorization", "")
    prefix = header.partition(" ")[2].strip().split(".", 1)[0][:12]
    return f"api-key {prefix}" if prefix else "api-key"


class MessagePagination(IdCursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Messages of the calling App; GET one by message_id for its full trace."""

    required_scope = Scope.SEND
    lookup_field = "message_id"
    filterset_class = MessageFilter
    pagination_class = MessagePagination

    def get_queryset(self):
        return message_list(self.request.auth)

    def get_serializer_class(self):
        return MessageDetailSerializer if self.action == "retrieve" else MessageSerializer

    def get_object(self):
        try:
            return message_get(
                self.request.auth,
                str(uuid.UUID(self.kwargs["message_id"])),
                for_write=self.request.method not in SAFE_METHODS,
            )
        except (ValueError, Message.DoesNotExist):
            raise NotFound("no such message") from None

    @action(detail=True, methods=["post"])
    def recall(self, request, message_id=None):
        """Withdraw a sent message at its provider (DingTalk work notice, WeCom app message,
        Telegram, ...): 200 with the message, 409 not_recallable, 502 recall_failed."""
        message = self.get_object()
        outcome = messages_recall([message])
        if outcome.not_recallable:
            raise ApiError(outcome.not_recallable[0][1], code="not_recallable", status_code=409)
        if outcome.failed:
            raise ApiError(outcome.failed[0][1], code="recall_failed", status_code=502)
        return Response(MessageDetailSerializer(self.get_object()).data)

    @extend_schema(request=ResendInputSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request, message_id=None):
        """Send the message again as a new message linked to this one (202)."""
        message = self.get_object()
        params = ResendInputSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        try:
            copy = message_resend(
                message, ignore_quiet_hours=params.validated_data["ignore_quiet_hours"]
            )
        except NotResendable as error:
            raise ApiError(str(error), code="not_resendable", status_code=409) from None
        return Response(
            {"message_id": str(copy.message_id), "resent_from": str(message.message_id)},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        operation_id="messages_replay",
        request=ReplayInputSerializer,
        responses={200: ReplayOutputSerializer, 202: ReplayOutputSerializer},
    )
    @action(detail=False, methods=["post"])
    def replay(self, request):
        """Bulk replay of dead letters: resend every message the filter selects (FAILED by
        default) once, as new messages linked to their originals. Messages resent before
        are skipped, so the same replay twice sends nothing new. `dry_run`: count only."""
        params = ReplayInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        dry_run = data.pop("dry_run")
        ignore_quiet_hours = data.pop("ignore_quiet_hours")
        audit = messages_replay(
            request.auth,
            ReplayFilter(**data),
            actor=api_actor(request),
            dry_run=dry_run,
            ignore_quiet_hours=ignore_quiet_hours,
        )
        body = {
            "replay_id": audit.pk,
            "dry_run": audit.dry_run,
            "matched": audit.matched,
            "resent": audit.resent,
            "skipped": audit.skipped,
            "filter": audit.filter,
        }
        return Response(body, status=status.HTTP_200_OK if dry_run else status.HTTP_202_ACCEPTED)


class ErrorSerializer(serializers.Serializer):
    """The body of every API error (notify.errors)."""

    error = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class RecallProblemSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    reason = serializers.CharField()


class RequestRecallResultSerializer(serializers.Serializer):
    request_id = serializers.UUIDField()
    recalled = serializers.ListField(child=serializers.UUIDField())
    not_recallable = RecallProblemSerializer(many=True)
    failed = RecallProblemSerializer(many=True)


class RequestRecallConflictSerializer(ErrorSerializer, RequestRecallResultSerializer):
    """409: nothing could be recalled; the error body plus the per-message outcome."""


class RequestRecallView(APIView):
    """POST /requests/{request_id}/recall: withdraw every recallable message of one send."""

    required_scope = Scope.SEND

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("request_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={
            200: OpenApiResponse(RequestRecallResultSerializer, "At least one message recalled."),
            404: OpenApiResponse(ErrorSerializer, "No such request."),
            409: OpenApiResponse(
                RequestRecallConflictSerializer, "None of the messages could be recalled."
            ),
            502: OpenApiResponse(
                RequestRecallResultSerializer, "Recalls were attempted but all failed."
            ),
        },
    )
    def post(self, request, request_id: str):
        try:
            send_request = SendRequest.objects.get(
                app=request.auth, request_id=uuid.UUID(request_id)
            )
        except (ValueError, SendRequest.DoesNotExist):
            raise NotFound("no such request") from None
        messages = list(Message.objects.filter(request=send_request).order_by("id"))
        outcome = messages_recall(messages)
        body = {
            "request_id": str(send_request.request_id),
            "recalled": [str(m.message_id) for m in outcome.recalled],
            "not_recallable": [
                {"message_id": str(m.message_id), "reason": r} for m, r in outcome.not_recallable
            ],
            "failed": [{"message_id": str(m.message_id), "reason": r} for m, r in outcome.failed],
        }
        if not outcome.recalled and not outcome.failed:
            reasons = sorted({r for _, r in outcome.not_recallable})
            return Response(
                {"error": "not_recallable", "message": "; ".join(reasons), "fields": {}, **body},
                status=status.HTTP_409_CONFLICT,
            )
        code = status.HTTP_200_OK if outcome.recalled else status.HTTP_502_BAD_GATEWAY
        return Response(body, status=code)


def _when(params, name: str, *, end: bool = False) -> datetime | None:
    """A date (whole day; date_to inclusive) or an ISO datetime; 400 naming the field."""
    raw = params.get(name)
    if not raw:
        return None
    if len(raw) == 10:
        day = day_or_error(name, raw)
        try:
            moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        except OverflowError:
            raise invalid(name, "out of the supported date range") from None
        return utc_or_error(name, timezone.make_aware(moment))
    try:
        moment = parse_datetime(raw)
    except ValueError:
        moment = None
    if moment is None:
        raise invalid(name, "a date (YYYY-MM-DD) or an ISO 8601 datetime")
    try:
        moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    except (OverflowError, ValueError):
        raise invalid(name, "out of the supported date range") from None
    return utc_or_error(name, moment)


_DATE_OR_DATETIME = "A date (YYYY-MM-DD, the whole day) or an ISO 8601 datetime."


@extend_schema(
    parameters=[
        OpenApiParameter("date_from", OpenApiTypes.STR, description=_DATE_OR_DATETIME),
        OpenApiParameter(
            "date_to", OpenApiTypes.STR, description=f"{_DATE_OR_DATETIME} A date is inclusive."
        ),
    ]
)
class ReceiverMessagesView(ListAPIView):
    """Every message to one receiver over a date range, with its final state and trace."""

    required_scope = Scope.SEND
    # For the schema only (the model behind the path and filters); get_queryset answers.
    queryset = Message.objects.none()
    serializer_class = MessageTraceSerializer
    pagination_class = MessagePagination

    def get_queryset(self):
        params = self.request.query_params
        start, end = _when(params, "date_from"), _when(params, "date_to", end=True)
        if start and end and start >= end:
            raise invalid("date_to", "must not be before date_from")
        return receiver_messages(self.request.auth, self.kwargs["receiver"], start, end)


def _day(params, name: str, default: date) -> date:
    raw = params.get(name)
    if not raw:
        return default
    return day_or_error(name, raw)


MAX_STATS_DAYS = 366


def stats_filter_from(params, apps: list[int] | None) -> StatsFilter:
    today = timezone.localdate()
    date_to = _day(params, "date_to", today)
    date_from = _day(params, "date_from", date_to - timedelta(days=6))
    if date_from > date_to:
        raise invalid("date_from", "must not be after date_to")
    if (date_to - date_from).days >= MAX_STATS_DAYS:
        raise invalid("date_from", f"at most {MAX_STATS_DAYS} days per query")
    state = params.get("state", "")
    if state and state not in MessageState.values:
        raise invalid("state", f"unknown state {state!r}")
    priority = params.get("priority", "")
    if priority and priority not in Priority.values:
        raise invalid("priority", f"one of {', '.join(Priority.values)}")
    return StatsFilter(
        date_from=date_from,
        date_to=date_to,
        apps=apps,
        template=params.get("template", ""),
        channel=params.get("channel", ""),
        state=state,
        priority=priority,
    )


class StatsRowSerializer(serializers.Serializer):
    day = serializers.DateField()
    template = serializers.CharField(help_text="Template code.")
    channel = serializers.CharField()
    state = serializers.ChoiceField(choices=MessageState.choices)
    count = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    rows = StatsRowSerializer(many=True)
    totals = serializers.DictField(
        child=serializers.IntegerField(), help_text="Count per state over all rows."
    )


class StatsView(APIView):
    """GET /stats?template=&channel=&state=&priority=&date_from=&date_to=: trace events per
    day / template / channel / state, read from the incremental daily aggregates."""

    required_scope = Scope.SEND

    @extend_schema(
        parameters=[
            OpenApiParameter("template", OpenApiTypes.STR, description="Template code."),
            OpenApiParameter("channel", OpenApiTypes.STR),
            OpenApiParameter("state", OpenApiTypes.STR, enum=MessageState.values),
            OpenApiParameter("priority", OpenApiTypes.STR, enum=Priority.values),
            OpenApiParameter(
                "date_from",
                OpenApiTypes.DATE,
                description=f"Default: 6 days before date_to; at most {MAX_STATS_DAYS} days.",
            ),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="Inclusive; default today."),
        ],
        responses={200: StatsSerializer, 400: ErrorSerializer},
    )
    def get(self, request):
        filters = stats_filter_from(request.query_params, [request.auth.pk])
        rows = stats_rows(filters)
        for row in rows:
            del row["template_id"]
        return Response(
            {
                "date_from": filters.date_from.isoformat(),
                "date_to": filters.date_to.isoformat(),
                "rows": rows,
                "totals": stats_totals(rows),
            }
        )


class CallbackEndpointSerializer(serializers.ModelSerializer):
    url = serializers.URLField(max_length=500, validators=[validate_egress_url])
    secret = serializers.CharField(write_only=True, min_length=16, max_length=200)
    states = serializers.ListField(
        child=serializers.ChoiceField(choices=MessageState.values), required=False
    )

    class Meta:
        model = CallbackEndpoint
        fields = ["url", "secret", "states", "enabled", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["url"] = url_mask(data.get("url") or "")  # a ?token= in it is a credential
        return data

    def validate_url(self, value: str) -> str:
        return url_unmask(value, self.instance.url) if self.instance is not None else value


class CallbackEndpointView(APIView):
    """The App's status-callback URL: GET, PUT (secret write-only), DELETE."""

    def _endpoint(self, app) -> CallbackEndpoint:
        endpoint = CallbackEndpoint.objects.filter(app=app).first()
        if endpoint is None:
            raise NotFound("no callback URL registered")
        return endpoint

    @extend_schema(
        responses={
            200: CallbackEndpointSerializer,
            404: OpenApiResponse(ErrorSerializer, "No callback URL registered."),
        }
    )
    def get(self, request):
        return Response(CallbackEndpointSerializer(self._endpoint(request.auth)).data)

    @extend_schema(
        request=CallbackEndpointSerializer,
        responses={200: CallbackEndpointSerializer, 400: ErrorSerializer},
        description="Register the callback URL, or change fields of the registered one.",
    )
    def put(self, request):
        endpoint = CallbackEndpoint.objects.filter(app=request.auth).first()
        serializer = CallbackEndpointSerializer(
            endpoint, data=request.data, partial=endpoint is not None
        )
        serializer.is_valid(raise_exception=True)
        serializer.save(app=request.auth)
        return Response(serializer.data)

    @extend_schema(
        responses={
            204: None,
            404: OpenApiResponse(ErrorSerializer, "No callback URL registered."),
        }
    )
    def delete(self, request):
        self._endpoint(request.auth).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReceiptUrlSerializer(serializers.Serializer):
    account = serializers.IntegerField(help_text="Channel account id.")
    name = serializers.CharField()
    provider = serializers.CharField()
    url = serializers.URLField()
    signature_checked = serializers.BooleanField()


class ReceiptUrlsView(APIView):
    """Where each of the App's channel accounts should send delivery receipts."""

    @extend_schema(responses={200: ReceiptUrlSerializer(many=True)})
    def get(self, request):
        accounts = ChannelAccount.objects.filter(app=request.auth).order_by("id")
        return Response(
            [
                {
                    "account": account.pk,
                    "name": account.name,
                    "provider": account.provider,
                    "url": receipt_url(account),
                    "signature_checked": push_signed(account.provider),
                }
                for account in accounts
            ]
        )
