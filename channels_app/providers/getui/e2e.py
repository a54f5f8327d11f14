"""The `getui` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import PUSH, E2ECase, http_fake
from channels_app.providers.getui.fake import FakeGetui


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeGetui(app_id="GxAppE2E", app_key="GxKeyE2E", master_secret="GxSecretE2E")
    server = http_fake(stack, fake)
    config = {"app_id": fake.app_id, "app_key": fake.app_key, "master_secret": fake.master_secret}
    return E2ECase(
        "push",
        "device_token",
        "cid-e2e",
        PUSH,
        config,
        server.url,
        lambda: [p["cid"] for p in fake.pushed] == ["cid-e2e"],
    )
