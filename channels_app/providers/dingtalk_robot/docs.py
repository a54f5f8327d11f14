"""The `dingtalk_robot` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="DingTalk custom robot",
    content=(
        "as dingtalk_work (text, markdown, link, action_card) plus `at_mobiles`, `at_user_ids`, "
        "`is_at_all`. Signed (加签) when `secret` is set; the receiver is only a label."
    ),
    errors=(
        "130101 (20/min) rate limited; 300001 (no such token), 310000 (sign/keyword/IP) permanent."
    ),
    default_base_url="`https://oapi.dingtalk.com`",
)
