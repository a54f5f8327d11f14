"""Fake WeChat official account API: the WeChat fake both WeChat providers share (one
/cgi-bin/token serves both), here checking template sends."""

from __future__ import annotations

from channels_app.providers.fakes_wechat import TEMPLATE_SEND, FakeWeChat

__all__ = ["TEMPLATE_SEND", "FakeWeChat"]
