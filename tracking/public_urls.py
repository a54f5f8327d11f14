"""Routes outside /api/v1/: included at the root by config/urls.py."""

from django.urls import path

from tracking import views
from tracking.receipts import webhooks

urlpatterns = [
    path("t/<str:token>", views.click_redirect, name="click-redirect"),
    path("r/<str:provider>/<int:account_id>/<str:token>", views.receipt_push, name="receipt"),
    path("r/<str:provider>/<int:account_id>", views.receipt_push, name="receipt-signed"),
    path("admin/tidings/dashboard/", views.dashboard, name="tidings-dashboard"),
    path("metrics", views.metrics, name="prometheus-django-metrics"),
]

# Email receipts: django-anymail's normalized tracking webhooks behind Tidings' guard
# (basic auth always, then each ESP's signature), one per provider folder declaring one;
# tracking.receipts.anymail handles the events.
urlpatterns += webhooks.anymail_urlpatterns()
