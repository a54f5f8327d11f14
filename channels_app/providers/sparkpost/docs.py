"""The `sparkpost` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="SparkPost (POST /transmissions)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above (401/403 wrong key permanent, 429 rate limit, 5xx transient).",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/sparkpost/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): SparkPost event webhooks (delivery, bounce, open, click): basic auth only"
    ),
    provider_id="the transmission id",
)
