"""MailerSend receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.mailersend import MailerSendTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="mailersend",
    label="MailerSend",
    view=MailerSendTrackingWebhookView,
    key_setting="TIDINGS_ANYMAIL_MAILERSEND_SIGNING_SECRET",
    anymail_key="MAILERSEND_SIGNING_SECRET",
    where="MailerSend webhooks (activity.delivered, hard/soft_bounced, opened, clicked); Signature = HMAC-SHA256 of the body, needs TIDINGS_ANYMAIL_MAILERSEND_SIGNING_SECRET",
)
