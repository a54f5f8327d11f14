"""/api/v1/campaigns, /api/v1/user-groups and cancelling scheduled sends: thin views over
notify.campaigns.services; an App only ever sees its own rows (others are 404)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import LimitOffsetPage
from notify.actors import Actor
from notify.api_fields import TemplateRefField, json_bytes
from notify.authentication import ApiKeyAuthentication
from notify.campaigns import runs, selectors, services
from notify.errors import ApiError, invalid
from notify.holds import held_send_cancel
from notify.models import Campaign, Priority, ScheduleKind, Scope, UserGroup, UserGroupMember

# --- serializers ----------------------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 that must carry its time zone: a naive time is ambiguous for a schedule."""

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # well-formed but impossible, e.g. minute 99
            self.fail("invalid", format="ISO 8601 with a time zone")
        if parsed is not None and parsed.tzinfo is None:
            self.fail("naive")
        return super().to_internal_value(value)

    default_error_messages = {"naive": "give a time zone, e.g. 2030-01-01T09:00:00+08:00"}


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    template = TemplateRefField(help_text="Template id or code.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    variables = serializers.DictField(required=False, help_text="Shared by every receiver.")
    audience = serializers.DictField(
        help_text='{"type": "file"} (then upload), {"type": "group", "group": id or name}, '
        '{"type": "topic", "topic": code}, '
        'or {"type": "list", "receivers": ["a@x.com", {"receiver": ..., "variables": {}}]}'
    )
    schedule = serializers.ChoiceField(choices=ScheduleKind.choices, required=False)
    send_at = AwareDateTimeField(required=False)
    cron = serializers.CharField(required=False, max_length=100, help_text="e.g. '0 9 * * 1'")
    timezone = serializers.CharField(required=False, max_length=64)

    def validate_variables(self, value: dict) -> dict:
        # Copied into every message of the campaign: the same cap as a send's variables.
        limit = settings.TIDINGS_MAX_VARIABLES_BYTES
        if json_bytes(value) > limit:
            raise serializers.ValidationError(f"at most {limit} bytes of JSON")
        return value


class CampaignOutputSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="template.code")
    audience = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "template", "priority", "status", "variables", "audience",
                  "schedule", "progress", "approvals", "last_error", "created_at", "updated_at"]  # fmt: skip

    def get_audience(self, campaign: Campaign) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": campaign.audience_kind,
            "size": runs.audience_size(campaign),
        }
        if campaign.audience_file_id:
            f = campaign.audience_file
            out["file"] = {"name": f.original_name, "bytes": f.size, "rows": f.rows,
                           "invalid_rows": f.invalid_rows, "receiver_column": f.receiver_column,
                           "columns": f.columns, "problems": f.problems}  # fmt: skip
        if campaign.audience_group_id:
            out["group"] = {"id": campaign.audience_group_id, "name": campaign.audience_group.name}
        if campaign.audience_topic_id:
            out["topic"] = {
                "code": campaign.audience_topic.code,
                "name": campaign.audience_topic.name,
            }
        return out

    def get_schedule(self, campaign: Campaign) -> dict[str, Any]:
        return {
            "type": campaign.schedule_kind,
            "send_at": campaign.send_at,
            "cron": campaign.cron or None,
            "timezone": campaign.cron_timezone if campaign.cron else None,
            "periodic_task": campaign.periodic_task.name if campaign.periodic_task_id else None,
        }

    def get_progress(self, campaign: Campaign) -> dict[str, Any] | None:
        if not self.context.get("detail"):
            return None
        return selectors.campaign_progress(campaign)

    def get_approvals(self, campaign: Campaign) -> list[dict[str, Any]]:
        if not self.context.get("detail"):
            return []
        return [
            {"action": a.action, "actor": a.actor, "note": a.note, "at": a.at}
            for a in campaign.approvals.all()
        ]


class UserGroupInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    user_ids = serializers.ListField(child=serializers.CharField(), required=False)


class UserGroupOutputSerializer(serializers.ModelSerializer):
    member_count = serializers.SerializerMethodField()

    class Meta:
        model = UserGroup
        fields = ["id", "name", "description", "member_count", "created_at"]

    def get_member_count(self, group: UserGroup) -> int:
        count = getattr(group, "member_count", None)
        return count if count is not None else group.members.count()


class MembersChangeSerializer(serializers.Serializer):
    add = serializers.ListField(child=serializers.CharField(), required=False)
    remove = serializers.ListField(child=serializers.CharField(), required=False)


# --- campaigns ----------------------------------------------------------------------------


def _campaign(request, pk: int) -> Campaign:
    campaign = selectors.campaign_get(request.auth, pk)
    if campaign is None:
        raise ApiError("no such campaign", code="not_found", status_code=404)
    return campaign


def _detail(campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
    campaign = Campaign.objects.select_related(
        "template", "audience_file", "audience_group", "audience_topic", "periodic_task"
    ).get(pk=campaign.pk)
    return Response(CampaignOutputSerializer(campaign, context={"detail": True}).data, status=code)


def _fields(serializer: serializers.Serializer) -> dict[str, Any]:
    data = dict(serializer.validated_data)
    if "schedule" not in data and ("send_at" in data or "cron" in data):
        data["schedule"] = ScheduleKind.AT if "send_at" in data else ScheduleKind.CRON
    return data


class CampaignListView(APIView):
    # Also tells the schema that GET answers a page, not a bare list.
    pagination_class = LimitOffsetPage

    @extend_schema(
        operation_id="campaign_list", responses={200: CampaignOutputSerializer(many=True)}
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.campaign_list(request.auth), request, view=self
        )
        return paginator.get_paginated_response(CampaignOutputSerializer(page, many=True).data)

    @extend_schema(operation_id="campaign_create", request=CampaignInputSerializer,
                   responses={201: CampaignOutputSerializer})  # fmt: skip
    def post(self, request):
        serializer = CampaignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_create(
            request.auth, Actor(app=request.auth), **_fields(serializer)
        )
        return _detail(campaign, status.HTTP_201_CREATED)


class CampaignDetailView(APIView):
    @extend_schema(operation_id="campaign_get", responses={200: CampaignOutputSerializer})
    def get(self, request, pk: int):
        return _detail(_campaign(request, pk))

    @extend_schema(operation_id="campaign_update", request=CampaignInputSerializer,
                   responses={200: CampaignOutputSerializer})  # fmt: skip
    def patch(self, request, pk: int):
        campaign = _campaign(request, pk)
        serializer = CampaignInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return _detail(services.campaign_update(campaign, **_fields(serializer)))

    @extend_schema(operation_id="campaign_delete", responses={204: None})
    def delete(self, request, pk: int):
        services.campaign_delete(_campaign(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignAudienceView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="campaign_audience_upload",
        request={"multipart/form-data": inline_serializer("AudienceUpload", {"file": serializers.FileField()})},
        responses={201: CampaignOutputSerializer},
    )  # fmt: skip
    def post(self, request, pk: int):
        campaign = _campaign(request, pk)
        upload = request.FILES.get("file")
        if upload is None:
            raise invalid("file", "upload the crowd CSV as the multipart field 'file'")
        campaign = services.campaign_audience_upload(campaign, upload, upload.name or "")
        return _detail(campaign, status.HTTP_201_CREATED)


ACTIONS = {
    "submit": lambda c, actor, note: services.campaign_submit(c, actor),
    "start": lambda c, actor, note: services.campaign_start(c),
    "pause": lambda c, actor, note: services.campaign_pause(c),
    "resume": lambda c, actor, note: services.campaign_resume(c),
    "cancel": lambda c, actor, note: services.campaign_cancel(c),
}


class CampaignActionView(APIView):
    @extend_schema(
        operation_id="campaign_action", request=None, responses={200: CampaignOutputSerializer}
    )
    def post(self, request, pk: int, action: str):
        campaign = _campaign(request, pk)
        return _detail(ACTIONS[action](campaign, Actor(app=request.auth), ""))


class CampaignDecisionView(APIView):
    """Approve / reject: only a staff user's admin session (with its CSRF token), never an
    App key, and never the staff user who submitted. No HTTP Basic: it would be a password
    oracle without CSRF or login throttling."""

    authentication_classes = [SessionAuthentication, ApiKeyAuthentication]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    # Checked in the view, so an App key gets the four-eyes explanation, not a bare 401.
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="campaign_decide",
        request=inline_serializer("Decision", {"note": serializers.CharField(required=False)}),
        responses={200: CampaignOutputSerializer},
    )
    def post(self, request, pk: int, action: str):
        user = request.user if getattr(request.user, "is_authenticated", False) else None
        actor = Actor(user=user)
        actor.require_staff()
        campaign = Campaign.objects.filter(pk=pk).first()
        if campaign is None:
            raise ApiError("no such campaign", code="not_found", status_code=404)
        note = request.data.get("note", "") if isinstance(request.data, dict) else ""
        services.campaign_decide(
            campaign, actor, approve=action == "approve", note=str(note)[:2000]
        )
        return _detail(campaign)


# --- user groups --------------------------------------------------------------------------


def _group(request, pk: int) -> UserGroup:
    group = selectors.user_group_list(request.auth).filter(pk=pk).first()
    if group is None:
        raise ApiError("no such user group", code="not_found", status_code=404)
    return group


class UserGroupListView(APIView):
    # Also tells the schema that GET answers a page, not a bare list.
    pagination_class = LimitOffsetPage

    @extend_schema(
        operation_id="user_group_list", responses={200: UserGroupOutputSerializer(many=True)}
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.user_group_list(request.auth), request, view=self
        )
        return paginator.get_paginated_response(UserGroupOutputSerializer(page, many=True).data)

    @extend_schema(operation_id="user_group_create", request=UserGroupInputSerializer,
                   responses={201: UserGroupOutputSerializer})  # fmt: skip
    def post(self, request):
        serializer = UserGroupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        group = services.user_group_create(
            request.auth, data["name"], data.get("description", ""), data.get("user_ids", [])
        )
        return Response(UserGroupOutputSerializer(_group(request, group.pk)).data, status=201)


class UserGroupDetailView(APIView):
    @extend_schema(operation_id="user_group_get", responses={200: UserGroupOutputSerializer})
    def get(self, request, pk: int):
        return Response(UserGroupOutputSerializer(_group(request, pk)).data)

    @extend_schema(operation_id="user_group_update", request=UserGroupInputSerializer,
                   responses={200: UserGroupOutputSerializer})  # fmt: skip
    def patch(self, request, pk: int):
        group = _group(request, pk)
        serializer = UserGroupInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if (
            "name" in data
            and UserGroup.objects.filter(app=request.auth, name=data["name"])
            .exclude(pk=pk)
            .exists()
        ):
            raise invalid("name", f"a group named {data['name']!r} exists")
        for key in ("name", "description"):
            if key in data:
                setattr(group, key, data[key])
        group.save()
        if "user_ids" in data:
            current = set(group.members.values_list("user_id", flat=True))
            wanted = set(data["user_ids"])
            services.user_group_members_change(group, add=data["user_ids"], remove=current - wanted)
        return Response(UserGroupOutputSerializer(_group(request, pk)).data)

    @extend_schema(operation_id="user_group_delete", responses={204: None})
    def delete(self, request, pk: int):
        services.user_group_delete(_group(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserGroupMembersView(APIView):
    # Also tells the schema that GET answers a page, not a bare list.
    pagination_class = LimitOffsetPage

    @extend_schema(operation_id="user_group_members", responses={200: inline_serializer(
        "Members", {"user_id": serializers.CharField()}, many=True)})  # fmt: skip
    def get(self, request, pk: int):
        group = _group(request, pk)
        paginator = self.pagination_class()
        rows = UserGroupMember.objects.filter(group=group).order_by("id").values("user_id")
        return paginator.get_paginated_response(
            paginator.paginate_queryset(rows, request, view=self)
        )

    @extend_schema(operation_id="user_group_members_change", request=MembersChangeSerializer,
                   responses={200: UserGroupOutputSerializer})  # fmt: skip
    def post(self, request, pk: int):
        group = _group(request, pk)
        serializer = MembersChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_group_members_change(
            group,
            add=serializer.validated_data.get("add", []),
            remove=serializer.validated_data.get("remove", []),
        )
        return Response(UserGroupOutputSerializer(_group(request, pk)).data)


# --- scheduled API sends ----------------------------------------------------------------------


class RequestCancelView(APIView):
    """Cancel a send held for its `send_at` (or for approval) until it starts."""

    required_scope = Scope.SEND

    @extend_schema(operation_id="request_cancel", request=None, responses={200: inline_serializer(
        "Cancelled", {"request_id": serializers.UUIDField(), "cancelled": serializers.IntegerField()})})  # fmt: skip
    def post(self, request, request_id):
        cancelled = held_send_cancel(request.auth, request_id)
        return Response({"request_id": str(request_id), "cancelled": cancelled})

    @extend_schema(operation_id="request_cancel_delete", responses={200: None})
    def delete(self, request, request_id):
        return self.post(request, request_id)
