"""The `wechat_mp` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.wechat_mp.fake import FakeWeChatMP


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeWeChatMP(appid="wx-mp-e2e", template_ids={"SUB-1"})
    server = http_fake(stack, fake)
    return E2ECase(
        "wechat_mp",
        "open_id",
        "oBob",
        {"template_id": "SUB-1", "data": {"thing1": "Order for {$name}"}},
        {"appid": fake.appid, "secret": fake.secret},
        server.url,
        lambda: [s["touser"] for s in fake.subscribe_sends()] == ["oBob"],
    )
