"""The `twilio_sms` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.twilio_sms.fake import FakeTwilioSms


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeTwilioSms()
    server = http_fake(stack, fake)
    config = {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "from_number": "+15005550006",
    }
    return E2ECase(
        "sms",
        "phone",
        "+14155550100",
        {"text": "Your code is {$code}"},
        config,
        server.url,
        lambda: (
            [(a["To"], a["Body"]) for a in fake.accepted] == [("+14155550100", "Your code is 42")]
        ),
    )
