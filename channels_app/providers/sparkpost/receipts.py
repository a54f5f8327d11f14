"""SparkPost receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="sparkpost",
    label="SparkPost",
    view=SparkPostTrackingWebhookView,
    where="SparkPost event webhooks (delivery, bounce, open, click): basic auth only",
)
