from __future__ import annotations

import uuid

import django_filters
from django.db.models import Q
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from tracking.models import Message, MessageEvent, MessageState
from tracking.selectors import message_get, message_list


class MessageEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageEvent
        fields = ["state", "at", "detail"]


class MessageSerializer(serializers.ModelSerializer):
    request_id = serializers.UUIDField(source="request.request_id")
    template = serializers.CharField(source="template.code")

    class Meta:
        model = Message
        fields = [
            "message_id", "request_id", "template", "channel", "receiver", "biz_id", "priority",
            "state", "attempts", "last_error", "provider_message_id", "created_at", "updated_at",
            "queued_at", "sent_at", "expires_at", "next_attempt_at",
        ]  # fmt: skip


class MessageDetailSerializer(MessageSerializer):
    events = MessageEventSerializer(many=True)

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "variables", "content", "events"]


class MessageFilter(django_filters.FilterSet):
    receiver = django_filters.CharFilter()
    template = django_filters.CharFilter(method="filter_template", help_text="Template code or id.")
    state = django_filters.ChoiceFilter(choices=MessageState.choices)
    biz_id = django_filters.CharFilter()
    request_id = django_filters.UUIDFilter(field_name="request__request_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

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

    def filter_template(self, queryset, name, value):
        condition = Q(template__code=value)
        if value.isdigit():
            condition |= Q(template_id=int(value))
        return queryset.filter(condition)


class MessagePagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Messages of the calling App; GET one by message_id for its full trace."""

    lookup_field = "message_id"
    filterset_class = MessageFilter
    pagination_class = MessagePagination

    def get_queryset(self):
        return message_list(self.request.auth)

    def get_serializer_class(self):
        return MessageDetailSerializer if self.action == "retrieve" else MessageSerializer

    def get_object(self):
        try:
            return message_get(self.request.auth, str(uuid.UUID(self.kwargs["message_id"])))
        except (ValueError, Message.DoesNotExist):
            raise NotFound("no such message") from None
