"""The `mandrill` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Mandrill / Mailchimp Transactional",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="Mandrill answers every error with HTTP 500 and a `name`: `Invalid_Key`, `ValidationError`, `PaymentRequired`, `Unknown_Subaccount` are permanent, the rest transient.",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/mandrill/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): Mandrill webhooks (no delivery event: open → READ, click → CLICKED, hard/soft bounce and reject → UNDELIVERED); signed with X-Mandrill-Signature, needs TIDINGS_ANYMAIL_MANDRILL_WEBHOOK_KEY (and TIDINGS_ANYMAIL_MANDRILL_WEBHOOK_URL behind a proxy that changes the URL)"
    ),
    provider_id="Mandrill's `_id`",
)
