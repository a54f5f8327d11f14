"""The `alipay_mp` end-to-end case: a fake gateway that checks the RSA2 signatures."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.alipay_mp.fake import FakeAlipay
from channels_app.providers.e2e_case import E2ECase, http_fake


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeAlipay()
    server = http_fake(stack, fake)
    return E2ECase(
        "alipay_mp",
        "user_id",
        "2088102122524333",
        {"template_id": "TPL-ORDER-SHIPPED", "data": {"keyword1": "Hi {$name}"}},
        fake.config,
        server.url,
        lambda: [s["data"] for s in fake.sent] == [{"keyword1": {"value": "Hi Ada"}}],
    )
