"""API routes for topics and profiles' topic subscriptions (trailing slash optional)."""

from django.urls import re_path

from config.routers import OptionalSlashRouter
from notify.topics_api import ProfileTopicsView, ProfileTopicView, TopicViewSet

router = OptionalSlashRouter()
router.register("topics", TopicViewSet, basename="topic")

urlpatterns = [
    re_path(r"^profiles/(?P<external_id>[^/]+)/topics/?$", ProfileTopicsView.as_view(),
            name="profile-topics"),
    re_path(r"^profiles/(?P<external_id>[^/]+)/topics/(?P<code>[^/]+)/?$",
            ProfileTopicView.as_view(), name="profile-topic"),
    *router.urls,
]  # fmt: skip
