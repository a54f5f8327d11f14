"""SendGrid receipts: its Event Webhook, through django-anymail's tracking view (ECDSA
signature checked when TIDINGS_SENDGRID_WEBHOOK_VERIFICATION_KEY is set)."""

from __future__ import annotations

from anymail.webhooks.sendgrid import SendGridTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="sendgrid",
    label="SendGrid",
    view=SendGridTrackingWebhookView,
    where="SendGrid Event Webhook (and TIDINGS_SENDGRID_WEBHOOK_VERIFICATION_KEY)",
)
