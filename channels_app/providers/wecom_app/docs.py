"""The `wecom_app` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="WeCom 企业微信 app message",
    content=(
        "`msgtype` text / markdown (`content`), textcard (`title`, `description`, `url`, "
        "`btntxt`), news (`articles`: 1-8 of `{title, description, url or pagepath, picurl}`)."
    ),
    errors=(
        "Token refresh on 40001/40014/42001; 45009/45033/45035 rate limited; invalid users "
        "reported per message (permanent)."
    ),
    default_base_url="`https://qyapi.weixin.qq.com`",
    batch="1000 userids per call (identical content joined by `|`)",
    provider_id="the `msgid`",
    recall="yes (`recall`)",
)
