"""The `smtp` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="SMTP",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors=(
        "SMTP 5xx replies (550 mailbox unavailable, auth failure) permanent; 4xx and connection "
        "trouble transient."
    ),
    batch="1 per call, up to the account's `max_in_flight` in flight, each on an SMTP connection reused for the batch",
    provider_id="the `Message-ID` header",
)
