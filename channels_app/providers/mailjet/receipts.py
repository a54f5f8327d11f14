"""Mailjet receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.mailjet import MailjetTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="mailjet",
    label="Mailjet",
    view=MailjetTrackingWebhookView,
    where="Mailjet event webhooks (sent = accepted by the receiving server, bounce, open, click): basic auth only",
)
