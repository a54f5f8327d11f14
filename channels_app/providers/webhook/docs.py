"""The `webhook` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Webhook (signed JSON POST)",
    content="any JSON object, posted as `content`",
    errors=(
        'Signed `X-Tidings-Signature: sha256=HMAC(secret, "<timestamp>.<body>")` with '
        "`X-Tidings-Timestamp`. HTTP rules as above."
    ),
    default_base_url="none: `config.url` unless base_url is set",
    batch=(
        "`config.batch_size` (1 by default: one POST per message, up to the account's "
        '`max_in_flight` in flight; >1 posts `{"messages": [...]}`)'
    ),
    provider_id="the message id (receivers deduplicate on it; also in `Idempotency-Key`)",
)
