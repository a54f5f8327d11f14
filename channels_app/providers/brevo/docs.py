"""The `brevo` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Brevo, formerly Sendinblue (POST /v3/smtp/email)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above (401 wrong key permanent, 429 rate limit, 5xx transient).",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/brevo/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): Brevo transactional webhooks (delivered, hard_bounce, opened, click): basic auth only"
    ),
    provider_id="Brevo's `messageId` (`<…@smtp-relay…>`)",
)
