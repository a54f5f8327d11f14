"""Fake WeChat official account API: the WeChat fakes both WeChat providers share (one
/cgi-bin/token serves both; the server-URL event pushes), in fakes_wechat."""

from __future__ import annotations

from channels_app.providers.fakes_wechat import TEMPLATE_SEND, FakeWeChat

__all__ = ["TEMPLATE_SEND", "FakeWeChat"]
