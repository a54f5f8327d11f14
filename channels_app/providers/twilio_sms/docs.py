"""The `twilio_sms` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Twilio Programmable Messaging",
    content="`text` (required, ≤ 1600 characters).",
    errors=(
        "429 and codes 20429/14107/21611 rate limited; 5xx and 20500/20503/30001 transient; other"
        " errors (21211 invalid number…) permanent."
    ),
    default_base_url="`https://api.twilio.com`",
    batch="1 per call, up to the account's `max_in_flight` calls in flight",
    provider_id="the Message `sid` (SM…)",
)
