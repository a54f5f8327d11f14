"""The `alipay_mp` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Alipay mini program template message (alipay.open.app.mini.templatemessage.send)",
    content=(
        "`template_id` (the `user_template_id`, required), `data` (object of keywords, e.g. "
        '`{"keyword1": "{$item}"}`; sent as `{"keyword1": {"value": …}}`), `page` (the mini '
        "program page opened on tap). Receivers (`user_id` or `open_id`): the Alipay user id "
        "(`2088…`, sent as `to_user_id`) or the user's open id (`to_open_id`). Requests are "
        "signed RSA2 (SHA256withRSA over the sorted parameters); an answer whose signature "
        "does not verify with `alipay_public_key` is a permanent failure (`bad_signature`), "
        "never counted as sent and never retried (Alipay may have sent it)."
    ),
    errors=(
        "`20000` (service unavailable) transient; a `sub_code` naming a limit (e.g. "
        "`aop.app-call-limited`) rate limited; `20001`, `40001`, `40002` (e.g. "
        "`isv.invalid-signature`, `isv.invalid-app-id`), `40004` (the template does not "
        "exist, the user did not subscribe) and `40006` permanent, with Alipay's `sub_code` "
        "as the error code; HTTP 5xx transient."
    ),
    provider_id="none (the API returns none)",
    receipts="none: the API offers no delivery signal; the trace ends at SENT by design",
)
