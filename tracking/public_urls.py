"""Routes outside /api/v1/: included at the root by config/urls.py."""

from django.urls import path
from django.utils.module_loading import import_string

from channels_app.providers.registry import PROVIDERS, get_adapter_class
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
# (basic auth always, then each ESP's signature); tracking.receipts.anymail handles events.
urlpatterns += [
    path("r/anymail/sendgrid/tracking/", webhooks.sendgrid_tracking, name="anymail-sendgrid"),
    path("r/anymail/mailgun/tracking/", webhooks.mailgun_tracking, name="anymail-mailgun"),
    path("r/anymail/amazon_ses/tracking/", webhooks.ses_tracking, name="anymail-ses"),
]
# The other ESPs declare their webhook in their adapter (channels_app/providers/<esp>/).
for _provider in PROVIDERS:
    _hook = getattr(get_adapter_class(_provider), "tracking_webhook", None)
    if _hook is not None:
        urlpatterns.append(
            path(
                f"r/anymail/{_hook.esp}/tracking/",
                webhooks.guarded(
                    import_string(_hook.view),
                    get_adapter_class(_provider).label,
                    f"TIDINGS_ANYMAIL_{_hook.signing_setting}" if _hook.signing_setting else "",
                    _hook.signing_setting,
                ),
                name=f"anymail-{_hook.esp}",
            )
        )
