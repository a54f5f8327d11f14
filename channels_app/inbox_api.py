"""The in-app inbox API.

POST /api/v1/inbox-tokens (the App's API key) issues a token for one of its users; the
end-user calls /api/v1/inbox/... with `Authorization: Bearer <token>`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.inbox import (
    InboxUser,
    InvalidInboxToken,
    inbox_items_mark_read,
    inbox_token_issue,
    inbox_token_verify,
)
from channels_app.models import InboxItem
from channels_app.selectors import inbox_item_list, inbox_unread_count
from config.pagination import IdCursorPagination
from notify.errors import invalid
from notify.models import Scope


class InboxTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        keyword, _, token = header.partition(" ")
        if keyword != self.keyword or not token.strip():
            raise exceptions.NotAuthenticated("use the header 'Authorization: Bearer <token>'")
        try:
            user = inbox_token_verify(token.strip())
        except InvalidInboxToken as exc:
            raise exceptions.AuthenticationFailed(f"invalid inbox token: {exc}") from None
        return (None, user)

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsInboxUser(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, InboxUser)


class InboxTokenInput(serializers.Serializer):
    user_id = serializers.CharField(max_length=320)
    ttl = serializers.IntegerField(
        required=False, min_value=60, help_text="Seconds the token is valid."
    )

    def validate_ttl(self, value: int) -> int:
        limit = settings.TIDINGS_INBOX_TOKEN_MAX_SECONDS
        if value > limit:
            raise serializers.ValidationError(f"at most {limit} seconds")
        return value


class InboxTokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`.")
    user_id = serializers.CharField()
    expires_at = serializers.DateTimeField()


class InboxTokenView(APIView):
    """Issue a token for one of the App's users (call it from your backend)."""

    required_scope = Scope.SEND

    @extend_schema(request=InboxTokenInput, responses={201: InboxTokenOutput})
    def post(self, request):
        data = InboxTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user_id = data.validated_data["user_id"]
        token, expires = inbox_token_issue(request.auth, user_id, data.validated_data.get("ttl"))
        expires_at = datetime.fromtimestamp(expires, tz=UTC)
        return Response(
            {"token": token, "user_id": user_id, "expires_at": expires_at.isoformat()},
            status=status.HTTP_201_CREATED,
        )


class InboxItemSerializer(serializers.ModelSerializer):
    message_id = serializers.UUIDField(source="message.message_id", read_only=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = InboxItem
        fields = ["message_id", "title", "body", "data", "created_at", "read", "read_at"]

    def get_read(self, item: InboxItem) -> bool:
        return item.read_at is not None


class InboxPagination(IdCursorPagination):
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100


class InboxBase:
    authentication_classes = [InboxTokenAuthentication]
    permission_classes = [IsInboxUser]


class InboxListView(InboxBase, ListAPIView):
    """The user's messages, newest first; `?unread=true` for unread ones only."""

    serializer_class = InboxItemSerializer
    pagination_class = InboxPagination
    filter_backends: list = []

    def get_queryset(self):
        unread = self.request.query_params.get("unread", "").lower()
        if unread not in ("", "true", "false", "1", "0"):
            raise invalid("unread", "use true or false")
        return inbox_item_list(self.request.auth, unread_only=unread in ("true", "1"))


_Marked = inline_serializer(
    "InboxMarked",
    {"marked": serializers.IntegerField(help_text="Messages newly marked read.")},
)


class InboxUnreadCountView(InboxBase, APIView):
    @extend_schema(
        responses={200: inline_serializer("InboxUnread", {"unread": serializers.IntegerField()})}
    )
    def get(self, request):
        return Response({"unread": inbox_unread_count(request.auth)})


class InboxMarkReadView(InboxBase, APIView):
    """Mark one message read (a message already read answers `marked: 0`)."""

    @extend_schema(
        request=None,
        responses={
            200: _Marked,
            404: OpenApiResponse(description="No such message in this inbox."),
        },
    )
    def post(self, request, message_id):
        if not inbox_item_list(request.auth).filter(message__message_id=message_id).exists():
            raise exceptions.NotFound("no such message in this inbox")
        marked = inbox_items_mark_read(request.auth, timezone.now(), message_id=str(message_id))
        return Response({"marked": marked})


class InboxMarkAllReadView(InboxBase, APIView):
    @extend_schema(request=None, responses={200: _Marked})
    def post(self, request):
        return Response({"marked": inbox_items_mark_read(request.auth, timezone.now())})
