"""Resend receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.resend import ResendTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="resend",
    label="Resend",
    view=ResendTrackingWebhookView,
    key_setting="TIDINGS_ANYMAIL_RESEND_SIGNING_SECRET",
    anymail_key="RESEND_SIGNING_SECRET",
    where="Resend webhooks (email.delivered, email.bounced, email.opened, email.clicked) signed through Svix; needs TIDINGS_ANYMAIL_RESEND_SIGNING_SECRET (the whsec_… secret)",
)
