"""/api/v1/api-keys: an App's keys (needs the `manage` scope). A new key is in the 201
answer once; afterwards only its prefix, scopes and times are shown."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from notify.authentication import request_app
from notify.errors import invalid
from notify.models import ApiKey, Scope
from notify.services import InvalidScopes, api_key_issue, api_key_revoke, scopes_clean
from notify.validation import NoNulCharField


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at",
                  "revoked"]  # fmt: skip
        read_only_fields = fields

    def get_revoked(self, api_key: ApiKey) -> bool:
        return api_key.revoked_at is not None


class ApiKeyCreateSerializer(serializers.Serializer):
    name = NoNulCharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices),
        min_length=1,
        max_length=len(Scope.values),
        help_text="`send`: send, read own messages, traces and stats. `manage`: everything.",
    )


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself: shown this once, store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The calling App's API keys. DELETE revokes (the row stays, for the audit trail)."""

    required_scope = Scope.MANAGE
    serializer_class = ApiKeySerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[ApiKey]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no App, only the model
            return ApiKey.objects.none()
        return ApiKey.objects.filter(app=request_app(self.request)).order_by("id")

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        description="Issue a key. The answer is the only time the key is shown.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            scopes = scopes_clean(data.validated_data["scopes"])
        except InvalidScopes as exc:
            raise invalid("scopes", str(exc)) from None
        api_key, key = api_key_issue(
            request_app(request), name=data.validated_data["name"], scopes=scopes
        )
        body = {**ApiKeySerializer(api_key).data, "key": key}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: OpenApiResponse(description="Revoked.")})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_key = self.get_object()
        if api_key.revoked_at is None:
            api_key_revoke(api_key)
            api_key.revoked_at = timezone.now()
        return Response(status=status.HTTP_204_NO_CONTENT)
