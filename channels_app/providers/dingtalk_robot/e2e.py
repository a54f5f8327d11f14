"""The `dingtalk_robot` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.dingtalk_robot.fake import FakeDingTalkRobot
from channels_app.providers.e2e_case import E2ECase, http_fake


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeDingTalkRobot()
    server = http_fake(stack, fake)
    return E2ECase(
        "dingtalk",
        "chat_id",
        "ops",
        {"msgtype": "text", "content": "disk full, {$name}"},
        {"access_token": fake.access_token, "secret": fake.secret},
        server.url,
        lambda: [b["text"] for b in fake.accepted] == [{"content": "disk full, Ada"}],
    )
