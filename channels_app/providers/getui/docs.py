"""The `getui` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Getui 个推 RestAPI v2",
    content=(
        "`title`, `body` (required), `click_type` (startapp, url, intent, payload, "
        "payload_custom, none) with its `url` / `intent` / `payload`."
    ),
    errors=(
        "Codes 10003/10005 rate limited (retry after 60 s); auth failure and inactive cids "
        "permanent."
    ),
    default_base_url="`https://restapi.getui.com`",
    batch="1000 cids per list task (identical content)",
    provider_id="the `taskid`",
)
