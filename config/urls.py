from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from channels_app.api import ChannelAccountViewSet
from notify.api import SendView
from templates_app.api import MessageTemplateViewSet
from tracking.api import MessageViewSet


class OptionalSlashRouter(SimpleRouter):
    """Both /api/v1/messages and /api/v1/messages/ answer: callers get no redirect."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("messages", MessageViewSet, basename="message")
router.register("templates", MessageTemplateViewSet, basename="template")
router.register("channel-accounts", ChannelAccountViewSet, basename="channel-account")


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/v1/send", SendView.as_view(), name="send"),
    path("api/v1/", include(router.urls)),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(
            url_name="schema", authentication_classes=[], permission_classes=[]
        ),
        name="swagger-ui",
    ),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("", include("django_prometheus.urls")),
]
