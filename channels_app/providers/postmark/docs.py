"""The `postmark` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Postmark (POST /email)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="Postmark's `ErrorCode` answers: 401/422 permanent, 5xx transient.",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/postmark/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): Postmark webhooks (Delivery, Bounce, Open, Click): basic auth only, Postmark does not sign"
    ),
    provider_id="Postmark's `MessageID`",
)
