"""The `wechat_mp` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="WeChat mini program subscribe message",
    content=(
        "`template_id`, `data` (as above), `page`, `miniprogram_state` (developer/trial/formal), "
        "`lang`."
    ),
    errors="As wechat_oa; a user who did not subscribe (43101) is permanent.",
    default_base_url="`https://api.weixin.qq.com`",
    provider_id="the `msgid`",
)
