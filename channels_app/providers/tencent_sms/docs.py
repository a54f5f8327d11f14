"""The `tencent_sms` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Tencent Cloud SMS (SendSms 2021-01-11, TC3-HMAC-SHA256)",
    content=(
        "`template_id` (digits, required), `params` (variable names in the order of `{1}`, "
        "`{2}`…), `sign_name` (overrides the account's)."
    ),
    errors=(
        "Per-number codes: bad numbers, unapproved templates/signatures permanent; "
        "`LimitExceeded.*` rate limits transient except the daily/permanent caps; "
        "`InternalError.*` transient."
    ),
    default_base_url="`https://sms.tencentcloudapi.com`",
    batch="200 numbers sharing template and parameters per call",
    provider_id="the `SerialNo` per number",
)
