"""The `mailtrap` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Mailtrap Email Sending (POST /api/send)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors='HTTP rules as above (401 wrong token permanent, 429 rate limit, 5xx transient); Mailtrap\'s error body is `{"success": false, "errors": [...]}`.',
    default_base_url="`https://send.api.mailtrap.io/api` (transactional stream; the bulk stream is `https://bulk.api.mailtrap.io/api`, same token and API)",
    provider_id="Mailtrap's message id for the recipient",
    receipts="`/r/anymail/mailtrap/tracking/` with the basic auth of `TIDINGS_ANYMAIL_WEBHOOK_SECRET` in the URL. `delivery` → DELIVERED, `bounce` / `reject` → UNDELIVERED, `open` → READ, `click` → CLICKED, `spam` → DELIVERED with the complaint in the detail (`soft bounce` and `suspension` change nothing). Signed: `Mailtrap-Signature` = HMAC-SHA256 of the body; set `TIDINGS_ANYMAIL_MAILTRAP_TRACKING_SECRET` to the webhook's signing secret (required).",
)
