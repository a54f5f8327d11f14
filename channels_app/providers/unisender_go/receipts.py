"""Unisender Go receipts: its tracking webhook, through django-anymail's view."""

from __future__ import annotations

from anymail.webhooks.unisender_go import UnisenderGoTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="unisender_go",
    label="Unisender Go",
    view=UnisenderGoTrackingWebhookView,
    key_setting="TIDINGS_ANYMAIL_UNISENDER_GO_API_KEY",
    anymail_key="UNISENDER_GO_API_KEY",
    where="Unisender Go webhooks (needs TIDINGS_ANYMAIL_UNISENDER_GO_API_KEY)",
)
