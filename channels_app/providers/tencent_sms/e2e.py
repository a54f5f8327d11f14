"""The `tencent_sms` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.tencent_sms.fake import FakeTencentSms


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeTencentSms()
    server = http_fake(stack, fake)
    config = {
        "secret_id": fake.secret_id,
        "secret_key": fake.secret_key,
        "sms_sdk_app_id": fake.sms_sdk_app_id,
        "sign_name": "Acme",
    }
    return E2ECase(
        "sms",
        "phone",
        "13800000001",
        {"template_id": "123456", "params": ["code"]},
        config,
        server.url,
        lambda: [(a["phone"], a["params"]) for a in fake.accepted] == [("+8613800000001", ["42"])],
    )
