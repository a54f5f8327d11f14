"""The `dingtalk_work` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.dingtalk_work.fake import FakeDingTalkWork
from channels_app.providers.e2e_case import E2ECase, http_fake


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeDingTalkWork()
    server = http_fake(stack, fake)
    config = {"appkey": fake.appkey, "appsecret": fake.appsecret, "agent_id": fake.agent_id}
    return E2ECase(
        "dingtalk",
        "user_id",
        "u1",
        {"msgtype": "markdown", "title": "Build", "text": "## Build passed, {$name}"},
        config,
        server.url,
        lambda: [b["userid_list"] for b in fake.accepted] == ["u1"],
    )
