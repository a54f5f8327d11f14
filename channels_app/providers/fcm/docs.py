"""The `fcm` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Firebase Cloud Messaging HTTP v1",
    content="`title`, `body` (required), `data` (object of strings), `image`, platform options.",
    errors=(
        "UNREGISTERED, INVALID_ARGUMENT, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR permanent; "
        "UNAVAILABLE, INTERNAL and 5xx transient; 429 QUOTA_EXCEEDED rate limited."
    ),
    default_base_url="`https://fcm.googleapis.com`",
    batch="1 per call (FCM v1 has no batch), up to the account's `max_in_flight` calls in flight",
    provider_id="the FCM message `name`",
)
