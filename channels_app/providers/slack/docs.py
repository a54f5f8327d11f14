"""The `slack` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Slack incoming webhook",
    content="`text` and/or `blocks` (Block Kit list); the receiver is only a label.",
    errors=(
        "`invalid_blocks` and other payload errors permanent for that message; `invalid_token`, "
        "`no_service` permanent; 429 rate limited."
    ),
    default_base_url="`https://hooks.slack.com` (replaces the host of `webhook_url`)",
    batch="1 per call, up to the account's `max_in_flight` calls in flight",
)
