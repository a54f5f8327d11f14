"""The `mailgun` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Mailgun",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above; an unknown sending domain (404) is permanent.",
    default_base_url="`https://api.mailgun.net/v3` (EU: `https://api.eu.mailgun.net/v3`)",
    provider_id="Mailgun's `<...@domain>` id",
)
