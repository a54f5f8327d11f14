"""The `yunpian_sms` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.yunpian_sms.fake import FakeYunpianSms


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeYunpianSms()
    server = http_fake(stack, fake)
    return E2ECase(
        "sms",
        "phone",
        "13800000001",
        {"tpl_id": "1234567", "params": ["code", "minutes"]},
        {"apikey": fake.apikey},
        server.url,
        lambda: (
            [(a["mobile"], a["text"]) for a in fake.accepted]
            == [("13800000001", "【Acme】您的验证码是42，5分钟内有效")]
        ),
    )
