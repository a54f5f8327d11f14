"""The `feishu_bot` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.feishu_bot.fake import FakeFeishuBot


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeFeishuBot()
    server = http_fake(stack, fake)
    return E2ECase(
        "feishu",
        "chat_id",
        "ops",
        {"msg_type": "text", "text": "Deploy done, {$name}"},
        {"token": fake.token, "secret": fake.secret},
        server.url,
        lambda: [b["content"] for b in fake.accepted] == [{"text": "Deploy done, Ada"}],
    )
