"""Postal receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.postal import PostalTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="postal",
    label="Postal",
    view=PostalTrackingWebhookView,
    key_setting="TIDINGS_ANYMAIL_POSTAL_WEBHOOK_KEY",
    anymail_key="POSTAL_WEBHOOK_KEY",
    where="Postal webhooks (MessageSent → DELIVERED, MessageDeliveryFailed / MessageBounced → UNDELIVERED, MessageLinkClicked → CLICKED); signed with the server RSA key, needs TIDINGS_ANYMAIL_POSTAL_WEBHOOK_KEY (its public key)",
)
