"""Mailgun receipts: its webhooks, through django-anymail's tracking view (HMAC signature
with TIDINGS_MAILGUN_WEBHOOK_SIGNING_KEY, required)."""

from __future__ import annotations

from anymail.webhooks.mailgun import MailgunTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="mailgun",
    label="Mailgun",
    view=MailgunTrackingWebhookView,
    key_setting="TIDINGS_MAILGUN_WEBHOOK_SIGNING_KEY",
    where="Mailgun webhooks (needs TIDINGS_MAILGUN_WEBHOOK_SIGNING_KEY)",
)
