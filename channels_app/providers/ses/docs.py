"""The `ses` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Amazon SES (v2 SendEmail, raw MIME)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors=(
        "botocore retries are off; throttling and 5xx transient, message rejections and auth "
        "errors permanent."
    ),
    default_base_url="the region's endpoint (base_url becomes boto3's endpoint_url)",
    provider_id="the SES MessageId",
)
