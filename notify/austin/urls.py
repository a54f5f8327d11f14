"""austin's paths, at the root as austin serves them (included from config/urls.py)."""

from django.urls import path

from notify.austin.views import (
    BatchSendView,
    RecallView,
    SendView,
    TraceMessageTemplateView,
    TraceMessageView,
    TraceUserView,
)

urlpatterns = [
    path("send", SendView.as_view(), name="austin-send"),
    path("batchSend", BatchSendView.as_view(), name="austin-batch-send"),
    path("recall", RecallView.as_view(), name="austin-recall"),
    path("trace/message", TraceMessageView.as_view(), name="austin-trace-message"),
    path("trace/user", TraceUserView.as_view(), name="austin-trace-user"),
    path(
        "trace/messageTemplate",
        TraceMessageTemplateView.as_view(),
        name="austin-trace-message-template",
    ),
]
