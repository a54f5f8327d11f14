"""Mailtrap receipts: its tracking webhook, through django-anymail's view."""

from __future__ import annotations

from anymail.webhooks.mailtrap import MailtrapTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="mailtrap",
    label="Mailtrap",
    view=MailtrapTrackingWebhookView,
    key_setting="TIDINGS_ANYMAIL_MAILTRAP_TRACKING_SECRET",
    anymail_key="MAILTRAP_TRACKING_SECRET",
    where="Mailtrap webhooks (needs TIDINGS_ANYMAIL_MAILTRAP_TRACKING_SECRET)",
)
