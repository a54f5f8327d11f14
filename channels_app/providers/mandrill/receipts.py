"""Mandrill receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.mandrill import MandrillCombinedWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="mandrill",
    label="Mandrill",
    view=MandrillCombinedWebhookView,
    key_setting="TIDINGS_ANYMAIL_MANDRILL_WEBHOOK_KEY",
    anymail_key="MANDRILL_WEBHOOK_KEY",
    where="Mandrill webhooks (no delivery event: open → READ, click → CLICKED, hard/soft bounce and reject → UNDELIVERED); signed with X-Mandrill-Signature, needs TIDINGS_ANYMAIL_MANDRILL_WEBHOOK_KEY (and TIDINGS_ANYMAIL_MANDRILL_WEBHOOK_URL behind a proxy that changes the URL)",
)
