"""Routes outside /api/v1/: included at the root by config/urls.py."""

from django.urls import path

from tracking import views

urlpatterns = [
    path("t/<str:token>", views.click_redirect, name="click-redirect"),
    path("r/<str:provider>/<int:account_id>/<str:token>", views.receipt_push, name="receipt"),
    path("r/<str:provider>/<int:account_id>", views.receipt_push, name="receipt-signed"),
    path("admin/tidings/dashboard/", views.dashboard, name="tidings-dashboard"),
    path("metrics", views.metrics, name="prometheus-django-metrics"),
]

# Email receipts: django-anymail's normalized tracking webhooks (it checks the ESP's
# signature / basic auth); tracking.receipts.anymail handles the events.
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView  # noqa: E402
from anymail.webhooks.mailgun import MailgunTrackingWebhookView  # noqa: E402
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView  # noqa: E402

urlpatterns += [
    path(
        "r/anymail/sendgrid/tracking/",
        SendGridTrackingWebhookView.as_view(),
        name="anymail-sendgrid",
    ),
    path(
        "r/anymail/mailgun/tracking/", MailgunTrackingWebhookView.as_view(), name="anymail-mailgun"
    ),
    path(
        "r/anymail/amazon_ses/tracking/", AmazonSESTrackingWebhookView.as_view(), name="anymail-ses"
    ),
]
