"""The `aliyun_sms` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.aliyun_sms.fake import FakeAliyunSms
from channels_app.providers.e2e_case import E2ECase, http_fake


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeAliyunSms()
    server = http_fake(stack, fake)
    config = {
        "access_key_id": fake.access_key_id,
        "access_key_secret": fake.access_key_secret,
        "sign_name": "Acme",
    }
    return E2ECase(
        "sms",
        "phone",
        "13800000001",
        {"template_code": "SMS_123456789", "params": ["code"]},
        config,
        server.url,
        lambda: (
            [(a["phone"], a["template_param"]) for a in fake.accepted]
            == [("13800000001", {"code": "42"})]
        ),
    )
