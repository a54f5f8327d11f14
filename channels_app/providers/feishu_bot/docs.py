"""The `feishu_bot` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Feishu / Lark custom bot",
    content=(
        "`msg_type` text (`text`), post (`title` + `text`, or a native `post`), interactive "
        "(`card`)."
    ),
    errors=(
        "Frequency limits 11232/11233 rate limited; 9499/19001/19002/19021/19022/19024/11246 "
        "permanent."
    ),
    default_base_url="`https://open.feishu.cn` (Lark: `https://open.larksuite.com`)",
)
