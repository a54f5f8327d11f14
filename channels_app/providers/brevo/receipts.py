"""Brevo receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.brevo import BrevoTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="brevo",
    label="Brevo",
    view=BrevoTrackingWebhookView,
    where="Brevo transactional webhooks (delivered, hard_bounce, opened, click): basic auth only",
)
