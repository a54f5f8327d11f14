"""The `wechat_oa` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="WeChat official account template message",
    content=(
        '`template_id` (required), `data` (object; values are strings or `{"value", "color"}`), '
        '`url`, `miniprogram` (`{"appid", "pagepath"}`).'
    ),
    errors=(
        "Access token cached for all workers and refreshed on 40001/40014/42001; quota codes "
        "45009/45011/45047 rate limited; invalid openid/template permanent."
    ),
    default_base_url="`https://api.weixin.qq.com`",
    provider_id="the `msgid`",
)
