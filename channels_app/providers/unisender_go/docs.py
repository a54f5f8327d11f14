"""The `unisender_go` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Unisender Go (Web API v1, POST email/send.json)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors='HTTP rules as above (401 wrong key permanent, 429 rate limit, 5xx transient); Unisender Go\'s error body is `{"status": "error", "message", "code"}`. Unisender Go answers 200 even when it refuses the address: one listed under `failed_emails` (`unsubscribed`, `invalid`, `permanent_unavailable`, `temporary_unavailable`) is a permanent failure (`recipient_refused` / `not_sent`), never retried.',
    default_base_url="`https://go1.unisender.ru/ru/transactional/api/v1` (accounts on the second data center: `https://go2.unisender.ru/ru/transactional/api/v1`)",
    provider_id="the per-recipient `anymail_id` (a UUID) anymail puts in the recipient's metadata",
    receipts="`/r/anymail/unisender_go/tracking/` with the basic auth of `TIDINGS_ANYMAIL_WEBHOOK_SECRET` in the URL. `transactional_email_status` events: `delivered` → DELIVERED, `hard_bounced` → UNDELIVERED, `opened` → READ, `clicked` → CLICKED (`soft_bounced` is a retry and changes nothing). Signed: the body's `auth` field is the MD5 of the body written with the API key in its place; set `TIDINGS_ANYMAIL_UNISENDER_GO_API_KEY` to the API key of the user or project that registered the webhook (required). One key verifies every Unisender Go receipt, so register the webhook once with the user's key when several accounts share a user.",
)
