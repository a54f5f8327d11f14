"""Postmark receipts: its tracking webhook, through django-anymail's view (see adapter.py
for what each event means here)."""

from __future__ import annotations

from anymail.webhooks.postmark import PostmarkTrackingWebhookView

from channels_app.providers.receipts import AnymailWebhook

ANYMAIL_WEBHOOK = AnymailWebhook(
    esp="postmark",
    label="Postmark",
    view=PostmarkTrackingWebhookView,
    where="Postmark webhooks (Delivery, Bounce, Open, Click): basic auth only, Postmark does not sign",
)
