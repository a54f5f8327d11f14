"""The `wechat_oa` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.wechat_oa.fake import FakeWeChat


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeWeChat(appid="wx-oa-e2e", template_ids={"TPL-1"})
    server = http_fake(stack, fake)
    return E2ECase(
        "wechat_oa",
        "open_id",
        "oAnn",
        {"template_id": "TPL-1", "data": {"first": "Hi {$name}"}},
        {"appid": fake.appid, "secret": fake.secret},
        server.url,
        lambda: (
            [(body["touser"], body["data"]) for _, body in fake.accepted]
            == [("oAnn", {"first": {"value": "Hi Ada"}})]
        ),
    )
