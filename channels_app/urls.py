from django.urls import path

from channels_app.api import ChannelAccountViewSet
from channels_app.inbox_api import (
    InboxListView,
    InboxMarkAllReadView,
    InboxMarkReadView,
    InboxTokenView,
    InboxUnreadCountView,
)
from channels_app.media_api import MediaFileDetailView, MediaFileUploadView
from config.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("channel-accounts", ChannelAccountViewSet, basename="channel-account")

urlpatterns = [
    *router.urls,
    path("media", MediaFileUploadView.as_view(), name="media-upload"),
    path("media/<uuid:pk>", MediaFileDetailView.as_view(), name="media-detail"),
    path("inbox-tokens", InboxTokenView.as_view(), name="inbox-token"),
    path("inbox/messages", InboxListView.as_view(), name="inbox-list"),
    path("inbox/unread-count", InboxUnreadCountView.as_view(), name="inbox-unread-count"),
    path(
        "inbox/messages/<uuid:message_id>/read",
        InboxMarkReadView.as_view(),
        name="inbox-mark-read",
    ),
    path("inbox/read-all", InboxMarkAllReadView.as_view(), name="inbox-read-all"),
]
