"""The `postal` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Postal, self-hosted (POST /api/v1/send/message)",
    content=(
        "`subject` (required), `text` and/or `html` (one required), `attachments` (list of "
        '`{"url" or "content_base64", "filename", "mimetype"}`, checked on save).'
    ),
    errors="HTTP rules as above; `base_url` is required (your Postal server).",
    default_base_url="none: `base_url` is your Postal server's root",
    receipts=(
        "django-anymail's tracking webhook at `/r/anymail/postal/tracking/` (basic auth of TIDINGS_ANYMAIL_WEBHOOK_SECRET in the URL): Postal webhooks (MessageSent → DELIVERED, MessageDeliveryFailed / MessageBounced → UNDELIVERED, MessageLinkClicked → CLICKED); signed with the server RSA key, needs TIDINGS_ANYMAIL_POSTAL_WEBHOOK_KEY (its public key)"
    ),
    provider_id="Postal's numeric message id per recipient (no custom metadata)",
)
