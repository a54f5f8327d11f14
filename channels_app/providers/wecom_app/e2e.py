"""The `wecom_app` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.wecom_app.fake import FakeWeCom


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeWeCom()
    server = http_fake(stack, fake)
    config = {"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid}
    return E2ECase(
        "wecom",
        "user_id",
        "ann",
        {"msgtype": "text", "content": "Deploy done, {$name}"},
        config,
        server.url,
        lambda: (
            [(b["touser"], b["text"]) for b in fake.accepted]
            == [("ann", {"content": "Deploy done, Ada"})]
        ),
    )
