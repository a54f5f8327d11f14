"""The `apns` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Apple Push Notification service (HTTP/2, token auth)",
    content=(
        "`title`, `body` (required), `subtitle`, `badge` (integer ≥ 0), `sound`, `data` (custom "
        "keys, no `aps`)."
    ),
    errors=(
        "410 Unregistered and 400 reasons (BadDeviceToken…) permanent; 429 TooManyRequests rate "
        "limited; 5xx transient; an expired provider token is refreshed."
    ),
    default_base_url="`https://api.push.apple.com` (development: sandbox host)",
    batch="1 per call, up to the account's `max_in_flight` calls in flight, multiplexed as HTTP/2 streams on a few connections",
    provider_id="the `apns-id`",
)
