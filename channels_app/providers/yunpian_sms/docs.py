"""The `yunpian_sms` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Yunpian 云片 SMS v2",
    content=(
        "either `text` (must match an approved template, with the `【signature】`) or `tpl_id` "
        "(digits) with `params`."
    ),
    errors=(
        "Rate-limit codes transient with retry_after; system errors transient; the rest permanent."
    ),
    default_base_url="`https://sms.yunpian.com`",
    batch="1000 numbers per call",
    provider_id="the per-number `sid`",
)
