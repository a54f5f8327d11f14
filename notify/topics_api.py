"""/api/v1/topics and a profile's topic subscriptions: thin views over notify.topics."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notify import topics
from notify.authentication import request_app
from notify.errors import ApiError
from notify.models import Topic, UserProfile


class TopicSerializer(serializers.ModelSerializer):
    subscriber_count = serializers.SerializerMethodField(
        help_text="Profiles subscribed to the topic."
    )

    class Meta:
        model = Topic
        fields = ["code", "name", "description", "subscriber_count", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {"code": {"validators": []}}

    def get_subscriber_count(self, topic: Topic) -> int:
        count = getattr(topic, "subscriber_count", None)
        return count if count is not None else topic.subscriptions.count()


class TopicViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Topics users subscribe to (POST /api/v1/profiles/{external_id}/topics); POST
    /api/v1/send with `"audience": {"topic": code}` sends to the subscribers."""

    serializer_class = TopicSerializer
    lookup_field = "code"

    def get_queryset(self) -> QuerySet[Topic]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no App
            return Topic.objects.none()
        return topics.topic_list(request_app(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topic = topics.topic_create(request_app(request), **serializer.validated_data)
        return Response(self.get_serializer(topic).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Topic) -> None:
        topics.topic_delete(instance)


class SubscribeSerializer(serializers.Serializer):
    topic = serializers.CharField(max_length=100, help_text="The topic's code.")


class ProfileTopicsSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    topics = serializers.ListField(
        child=serializers.CharField(), help_text="Codes of the topics the user subscribes to."
    )


def _profile(request: Request, external_id: str) -> UserProfile:
    profile = UserProfile.objects.filter(app=request_app(request), external_id=external_id).first()
    if profile is None:
        raise ApiError("no such profile", code="not_found", status_code=404)
    return profile


def _answer(profile: UserProfile, codes: list[str]) -> Response:
    return Response({"external_id": profile.external_id, "topics": codes})


class ProfileTopicsView(APIView):
    @extend_schema(operation_id="profile_topics", responses={200: ProfileTopicsSerializer})
    def get(self, request: Request, external_id: str) -> Response:
        profile = _profile(request, external_id)
        return _answer(profile, topics.profile_topics(profile))

    @extend_schema(
        operation_id="profile_topic_subscribe",
        request=SubscribeSerializer,
        responses={200: ProfileTopicsSerializer},
        examples=[OpenApiExample("Subscribe", value={"topic": "product-news"}, request_only=True)],
    )
    def post(self, request: Request, external_id: str) -> Response:
        """Subscribe the user to a topic (subscribing twice changes nothing)."""
        profile = _profile(request, external_id)
        params = SubscribeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return _answer(profile, topics.topic_subscribe(profile, params.validated_data["topic"]))


class ProfileTopicView(APIView):
    @extend_schema(
        operation_id="profile_topic_unsubscribe", responses={200: ProfileTopicsSerializer}
    )
    def delete(self, request: Request, external_id: str, code: str) -> Response:
        """Unsubscribe the user from a topic (idempotent)."""
        profile = _profile(request, external_id)
        return _answer(profile, topics.topic_unsubscribe(profile, code))
