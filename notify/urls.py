from django.urls import include, path

from notify.api import SendView

urlpatterns = [
    path("send", SendView.as_view(), name="send"),
    # Each area owns its routes.
    path("", include("notify.rules_urls")),
    path("", include("notify.campaign_urls")),
]
