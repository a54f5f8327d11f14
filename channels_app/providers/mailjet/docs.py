"""The `mailjet` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Mailjet (Send API v3.1)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above; a per-message `error` status in a 200/400 answer is permanent (nothing was sent).",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/mailjet/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): Mailjet event webhooks (sent = accepted by the receiving server, bounce, open, click): basic auth only"
    ),
    provider_id="Mailjet's numeric `MessageID`",
)
