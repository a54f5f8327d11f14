"""The `sendgrid` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="SendGrid (v3 /mail/send)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above (401/403 wrong key permanent).",
    default_base_url="`https://api.sendgrid.com/v3`",
    provider_id="anymail's per-recipient `anymail_id` (echoed by the event webhook)",
)
