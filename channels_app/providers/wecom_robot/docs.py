"""The `wecom_robot` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="WeCom group robot",
    content=(
        "`msgtype` text (`content`, `mentioned_list`, `mentioned_mobile_list`), markdown "
        "(`content`), news (`articles` with `url`). The receiver is only a label."
    ),
    errors=(
        "45009/45033/45035 (20 a minute per robot) rate limited; an invalid key (93000) permanent."
    ),
    default_base_url="`https://qyapi.weixin.qq.com`",
    provider_id="the message id (the robot returns none)",
)
