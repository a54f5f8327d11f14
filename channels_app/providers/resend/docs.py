"""The `resend` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Resend (POST /emails)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above (401/403 wrong key permanent, 429 rate limit, 5xx transient).",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/resend/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): Resend webhooks (email.delivered, email.bounced, email.opened, email.clicked) signed through Svix; needs TIDINGS_ANYMAIL_RESEND_SIGNING_SECRET (the whsec_… secret)"
    ),
    provider_id="Resend's email id",
)
