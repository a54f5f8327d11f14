"""The `dingtalk_work` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="DingTalk work notice (asyncsend_v2)",
    content=(
        "`msgtype` text (`content`), markdown (`title`, `text`), link (`title`, `text`, "
        "`message_url`, `pic_url`), action_card (`title`, `text`, `single_title`/`single_url`), "
        "oa (`message_url`, `body`)."
    ),
    errors=(
        "Codes 90002/90018/130101/410100 rate limited; 40035/40089/60011/60020 permanent; token "
        "refresh on expiry."
    ),
    default_base_url="`https://oapi.dingtalk.com`",
    batch="1000 userids per call (identical content)",
    provider_id="the `task_id`",
    recall="yes (`recall`)",
)
