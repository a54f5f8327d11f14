"""The `wecom_robot` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.wecom_robot.fake import FakeWeComRobot


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeWeComRobot()
    server = http_fake(stack, fake)
    return E2ECase(
        "wecom",
        "chat_id",
        "ops-group",
        {"msgtype": "markdown", "content": "# Disk full on {$name}"},
        {"key": fake.key},
        server.url,
        lambda: (
            fake.accepted
            == [{"msgtype": "markdown", "markdown": {"content": "# Disk full on Ada"}}]
        ),
    )
