from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from notify.api_guard import api_not_found


def healthz(request):
    return JsonResponse({"status": "ok"})


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
    # Anything else under /api/ is a JSON 404 (not Django's HTML page).
    re_path(r"^api/(?P<path>.*)$", api_not_found),
    # Click redirects, provider receipts, the admin dashboard and /metrics (before the
    # admin's catch-all and django_prometheus's own /metrics).
    path("", include("tracking.public_urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("", include("django_prometheus.urls")),
]
