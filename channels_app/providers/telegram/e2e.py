"""The `telegram` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.telegram.fake import FakeTelegram


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeTelegram()
    server = http_fake(stack, fake)
    return E2ECase(
        "telegram",
        "chat_id",
        "1001",
        {"text": "hello {$name}"},
        {"bot_token": fake.token},
        server.url,
        lambda: [(s["chat"], s["text"]) for s in fake.sent] == [("1001", "hello Ada")],
    )
