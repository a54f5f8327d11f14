"""The `feishu_app` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Feishu / Lark app bot (im/v1 messages)",
    content=(
        'feishu_bot\'s: `{"msg_type": "text", "text": …}`, `post` or `interactive`. '
        "Receivers are ids of the account's `receive_id_type` (open_id by default; user_id, "
        "union_id, email or chat_id)."
    ),
    errors=(
        "Token errors (99991661/99991663/99991668) refresh the tenant token once; app and "
        "per-chat frequency limits (99991400, 230020) rate limited; invalid receivers and "
        "contents permanent; 5xx transient."
    ),
    default_base_url="`https://open.feishu.cn` (Lark: `https://open.larksuite.com`)",
    provider_id="Feishu's `message_id`",
    receipts=(
        "pull: `GET /open-apis/im/v1/messages/{message_id}/read_users` for messages still "
        "SENT (Feishu keeps it 7 days), at most 200 per account and run → READ at the first "
        "reader's time; the app needs `im:message:readonly` too."
    ),
)
