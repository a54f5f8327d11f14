from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.wechat_mp.adapter import WeChatMPAdapter
from channels_app.providers.wechat_mp.fake import SUBSCRIBE_SEND, FakeWeChatMP

CONTENT = {"template_id": "SUB-1", "data": {"thing1": "Order 42", "amount2": {"value": "9.90"}}}


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


@pytest.fixture
def fake():
    return FakeWeChatMP(template_ids={"SUB-1"}, refused={"oRefused"})


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake, server, **config) -> WeChatMPAdapter:
    config = {"appid": fake.appid, "secret": fake.secret, **config}
    return WeChatMPAdapter(WeChatMPAdapter.validate_config(config), base_url=server.url)


def message(receiver: str = "oAnn", content: dict | None = None) -> OutboundMessage:
    return OutboundMessage(
        id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content or CONTENT
    )


def test_payload_and_msgid(fake, server):
    content = {**CONTENT, "page": "pages/order?id=42", "lang": "en_US"}
    [result] = adapter(fake, server, miniprogram_state="trial").send([message(content=content)])
    assert result.ok
    assert result.provider_message_id.isdigit()
    assert fake.subscribe_sends() == [
        {
            "touser": "oAnn",
            "template_id": "SUB-1",
            "data": {"thing1": {"value": "Order 42"}, "amount2": {"value": "9.90"}},
            "page": "pages/order?id=42",
            "miniprogram_state": "trial",  # from the account
            "lang": "en_US",  # from the content
        }
    ]
    assert server.requests[-1].path == SUBSCRIBE_SEND


def test_token_cached_across_sends(fake, server):
    adapter(fake, server).send([message()])
    adapter(fake, server).send([message()])
    assert fake.token_calls == 1
    assert len(fake.accepted) == 2


def test_expired_token_is_refreshed(fake, server):
    adapter(fake, server).send([message()])
    fake.expire_tokens()
    [result] = adapter(fake, server).send([message()])
    assert result.ok
    assert fake.token_calls == 2


def test_refused_user_is_permanent(fake, server):
    refused, ok = adapter(fake, server).send([message("oRefused"), message("oAnn")])
    assert refused.error.permanent
    assert refused.error.code == "43101"
    assert ok.ok


def test_rate_limited(fake, server):
    fake.quota = 0
    [result] = adapter(fake, server).send([message()])
    assert result.error.rate_limited
    assert result.error.code == "45009"


def test_5xx_and_timeout_are_transient(fake, server, settings):
    fake.faults.append(Reply(status=503, body={"errcode": -1, "errmsg": "system error"}))
    [result] = adapter(fake, server).send([message()])
    assert not result.error.permanent
    assert result.error.code == "503"
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.2
    fake.delay = 0.5
    [result] = adapter(fake, server).send([message()])
    assert not result.error.permanent
    assert result.error.code == "timeout"


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as caught:
        WeChatMPAdapter.validate_config({"appid": "wx", "secret": "s", "miniprogram_state": "beta"})
    assert "miniprogram_state" in caught.value.detail
    config = WeChatMPAdapter.validate_config({"appid": "wx", "secret": "s"})
    assert config["miniprogram_state"] == "formal"
    assert config["lang"] == "zh_CN"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"data": {"thing1": "x"}}, "content.template_id"),
        ({"template_id": "T"}, "content.data"),
        ({**CONTENT, "lang": "fr_FR"}, "content.lang"),
        ({**CONTENT, "miniprogram_state": "beta"}, "content.miniprogram_state"),
    ],
)
def test_content_validation(content, field):
    with pytest.raises(serializers.ValidationError) as caught:
        WeChatMPAdapter.validate_content("wechat_mp", content)
    assert field in caught.value.detail
