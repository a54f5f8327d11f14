"""The `feishu_app` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.feishu_app.fake import FakeFeishuApp


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeFeishuApp()
    server = http_fake(stack, fake)
    return E2ECase(
        "feishu",
        "user_id",
        "ou_ann",
        {"msg_type": "text", "text": "Deploy done, {$name}"},
        {"app_id": fake.app_id, "app_secret": fake.app_secret},
        server.url,
        lambda: (
            [(m["receive_id"], m["content"]) for m in fake.accepted()]
            == [("ou_ann", {"text": "Deploy done, Ada"})]
        ),
    )
