"""The `telegram` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Telegram Bot API",
    content=(
        "`text` (required, ≤ 4096), `parse_mode` (Markdown, MarkdownV2, HTML; overrides the "
        "account)."
    ),
    errors="429 with `retry_after` rate limited; chat not found / bot blocked permanent.",
    default_base_url="`https://api.telegram.org`",
    batch="1 per call, up to the account's `max_in_flight` calls in flight",
    provider_id="`<chat_id>:<message_id>`",
    recall="yes (`recall` deletes the message)",
)
