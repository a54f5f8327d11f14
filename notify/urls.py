from django.urls import include, path

from config.routers import OptionalSlashRouter
from notify.api import SendView
from notify.api_keys import ApiKeyViewSet

router = OptionalSlashRouter()
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("send", SendView.as_view(), name="send"),
    *router.urls,
    # Each area owns its routes.
    path("", include("notify.rules_urls")),
    path("", include("notify.campaign_urls")),
    path("", include("notify.topics_urls")),
]
