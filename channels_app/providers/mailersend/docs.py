"""The `mailersend` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="MailerSend (POST /v1/email)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above (401 wrong token permanent, 422 invalid permanent, 429 rate limit, 5xx transient).",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/mailersend/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): MailerSend webhooks (activity.delivered, hard/soft_bounced, opened, clicked); Signature = HMAC-SHA256 of the body, needs TIDINGS_ANYMAIL_MAILERSEND_SIGNING_SECRET"
    ),
    provider_id="the `X-Message-Id` MailerSend answers with (no custom metadata: our id travels in the `X-Tidings-Message-Id` header)",
)
