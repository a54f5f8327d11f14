"""The `scaleway` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Scaleway Transactional Email (POST …/regions/<region>/emails)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above (401 `denied_authentication` and 403 `permissions_denied` permanent, 400 `invalid_arguments` permanent, 429 rate limit, 5xx transient).",
    default_base_url="`https://api.scaleway.com/transactional-email/v1alpha1/regions/fr-par` (the region is the URL's last segment)",
    provider_id="Scaleway's per-recipient email `id`",
    receipts="none. anymail normalizes no Scaleway webhook, so Tidings has no receipt endpoint for it: a Scaleway message's trace ends at SENT (never DELIVERED, READ or UNDELIVERED). Our id travels in the `X-Tidings-Message-Id` header.",
)
