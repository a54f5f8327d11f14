from django.urls import path, re_path

from config.routers import OptionalSlashRouter
from tracking.api import (
    CallbackEndpointView,
    MessageViewSet,
    ReceiptUrlsView,
    ReceiverMessagesView,
    RequestRecallView,
    StatsView,
)

router = OptionalSlashRouter()
router.register("messages", MessageViewSet, basename="message")

urlpatterns = [
    *router.urls,
    # A receiver may hold any character but "/" is kept for the suffix (URL receivers work
    # percent-encoded).
    re_path(
        r"^receivers/(?P<receiver>.+)/messages/?$",
        ReceiverMessagesView.as_view(),
        name="receiver-messages",
    ),
    re_path(
        r"^requests/(?P<request_id>[^/]+)/recall/?$",
        RequestRecallView.as_view(),
        name="request-recall",
    ),
    re_path(r"^stats/?$", StatsView.as_view(), name="stats"),
    re_path(r"^callback/?$", CallbackEndpointView.as_view(), name="callback-endpoint"),
    path("receipt-urls", ReceiptUrlsView.as_view(), name="receipt-urls"),
]
