"""The `aliyun_sms` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Alibaba Cloud SMS (dysmsapi SendSms, HMAC-SHA1)",
    content=(
        "`template_code` (`SMS_…`, required), `params` (variable names for TemplateParam; all "
        "variables when absent), `sign_name`."
    ),
    errors=(
        "`isv.BUSINESS_LIMIT_CONTROL`-style throttling and `isp.*` system errors transient; "
        "template, signature, number and key errors permanent."
    ),
    default_base_url="`https://dysmsapi.aliyuncs.com`",
    batch="100 (identical TemplateParam share one call)",
    provider_id="the call's `BizId` (receipts look up BizId + number)",
)
