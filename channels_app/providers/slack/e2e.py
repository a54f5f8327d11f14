"""The `slack` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.slack.fake import FakeSlackWebhook


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeSlackWebhook()
    server = http_fake(stack, fake)
    return E2ECase(
        "slack",
        "chat_id",
        "#alerts",
        {"text": "deploy done by {$name}"},
        {"path": fake.path},
        server.url,
        lambda: fake.posted == [{"text": "deploy done by Ada"}],
    )
