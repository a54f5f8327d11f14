"""Fake WeChat mini program subscribe-message API: the same fake as the official account's
(one /cgi-bin/token serves both), checking subscribe sends (page, state, lang, 43101)."""

from __future__ import annotations

from channels_app.providers.fakes_wechat import SUBSCRIBE_SEND, FakeWeChat

__all__ = ["SUBSCRIBE_SEND", "FakeWeChat", "FakeWeChatMP"]


class FakeWeChatMP(FakeWeChat):
    def subscribe_sends(self) -> list[dict]:
        return [body for path, body in self.accepted if path == SUBSCRIBE_SEND]
