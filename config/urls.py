from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from config import health
from config.admin_site import admin_site_brand
from notify.api_guard import api_not_found

admin_site_brand(admin.site)

# Whatever escapes a view or a middleware: JSON under /api/, 503 for a dead dependency.
handler500 = "notify.errors.server_error"

# Each app owns its /api/v1/ routes in its own urls.py.
api_v1 = [
    path("", include("notify.urls")),
    path("", include("tracking.urls")),
    path("", include("templates_app.urls")),
    path("", include("channels_app.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
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
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(
            url_name="schema", authentication_classes=[], permission_classes=[]
        ),
        name="redoc",
    ),
    # Anything else under /api/ is a JSON 404 (not Django's HTML page).
    re_path(r"^api/(?P<path>.*)$", api_not_found),
    # Click redirects, provider receipts, the admin dashboard and the token-protected
    # /metrics (before the admin's catch-all; django_prometheus's open /metrics is not routed).
    path("", include("tracking.public_urls")),
    path("admin/", admin.site.urls),
    # austin-compatible API (POST /send, /batchSend, /recall, /trace/...): a drop-in for
    # teams migrating from austin; see docs/migrating-from-austin.md.
    path("", include("notify.austin.urls")),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("healthz", health.ready, name="healthz"),
]
