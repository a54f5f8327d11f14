from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.wechat_oa.adapter import WeChatOAAdapter
from channels_app.providers.wechat_oa.fake import TEMPLATE_SEND, FakeWeChat

CONTENT = {
    "template_id": "TPL-1",
    "data": {"first": "Hi Ann", "amount": {"value": "9.90", "color": "#173177"}},
    "url": "https://example.com/orders/1",
}


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


@pytest.fixture
def fake():
    return FakeWeChat(template_ids={"TPL-1"})


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake: FakeWeChat, server: FakeHTTPServer, **config) -> WeChatOAAdapter:
    config = {"appid": fake.appid, "secret": fake.secret, **config}
    return WeChatOAAdapter(WeChatOAAdapter.validate_config(config), base_url=server.url)


def message(receiver: str = "oAnn", content: dict | None = None) -> OutboundMessage:
    return OutboundMessage(
        id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content or CONTENT
    )


def test_payload_and_msgids(fake, server):
    # given
    first, second = message("oAnn"), message("oBob")
    # when
    results = adapter(fake, server).send([first, second])
    # then
    assert [r.ok for r in results] == [True, True]
    assert results[0].provider_message_id != results[1].provider_message_id
    assert results[0].provider_message_id.isdigit()
    (path, body), _ = fake.accepted
    assert path == TEMPLATE_SEND
    assert body == {
        "touser": "oAnn",
        "template_id": "TPL-1",
        "data": {"first": {"value": "Hi Ann"}, "amount": {"value": "9.90", "color": "#173177"}},
        "url": "https://example.com/orders/1",
        "client_msg_id": first.message_id.replace("-", ""),
    }
    assert fake.token_calls == 1


def test_miniprogram_link(fake, server):
    content = {**CONTENT, "miniprogram": {"appid": "wxmini", "pagepath": "pages/order?id=1"}}
    [result] = adapter(fake, server).send([message(content=content)])
    assert result.ok
    assert fake.accepted[0][1]["miniprogram"] == {"appid": "wxmini", "pagepath": "pages/order?id=1"}


def test_token_cached_and_shared_across_sends(fake, server):
    adapter(fake, server).send([message()])
    # A new adapter (another worker) finds the token in the shared cache.
    [result] = adapter(fake, server).send([message()])
    assert result.ok
    assert fake.token_calls == 1
    token_queries = [r for r in server.requests if r.path == "/cgi-bin/token"]
    assert len(token_queries) == 1


def test_expired_token_is_refreshed_and_the_send_retried(fake, server):
    adapter(fake, server).send([message()])
    fake.expire_tokens()
    [result] = adapter(fake, server).send([message()])
    assert result.ok
    assert fake.token_calls == 2
    assert len(fake.accepted) == 2
    sends = [r for r in server.requests if r.path == TEMPLATE_SEND]
    assert len(sends) == 3  # the one refused with 42001, then its retry


def test_replaced_token_40001_is_refreshed(fake, server):
    adapter(fake, server).send([message()])
    fake.tokens.clear()  # e.g. another system fetched a token for this appid
    [result] = adapter(fake, server).send([message()])
    assert result.ok
    assert fake.token_calls == 2


def test_rate_limited_stops_the_batch(fake, server):
    fake.quota = 1
    results = adapter(fake, server).send([message("oA"), message("oB"), message("oC")])
    assert results[0].ok
    for result in results[1:]:
        assert result.error.rate_limited
        assert not result.error.permanent
        assert result.error.code == "45009"
    assert len([r for r in server.requests if r.path == TEMPLATE_SEND]) == 2


def test_bad_openid_and_template_are_permanent(fake, server):
    bad_template = {**CONTENT, "template_id": "TPL-unknown"}
    results = adapter(fake, server).send(
        [message("invalid-openid"), message(content=bad_template), message("oOk")]
    )
    assert results[0].error.permanent
    assert results[0].error.code == "40003"
    assert results[1].error.permanent
    assert results[1].error.code == "40037"
    assert results[2].ok


def test_system_busy_and_5xx_are_transient(fake, server):
    fake.faults += [
        Reply(body={"errcode": -1, "errmsg": "system error"}),
        Reply(status=502, body={"errcode": -1, "errmsg": "bad gateway"}),
    ]
    busy, gateway = adapter(fake, server).send([message(), message()])
    assert not busy.error.permanent
    assert busy.error.code == "-1"
    assert not gateway.error.permanent
    assert gateway.error.code == "502"


def test_timeout_is_transient(fake, server, settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.2
    fake.delay = 0.5
    [result] = adapter(fake, server).send([message()])
    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_wrong_secret_is_permanent_and_not_leaked(fake, server):
    [result] = adapter(fake, server, secret="wrong-secret-value").send([message()])
    assert result.error.permanent
    assert result.error.code == "40125"
    assert "wrong-secret-value" not in str(result.error)
    assert server.url not in str(result.error)


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as caught:
        WeChatOAAdapter.validate_config({"appid": "wx1"})
    assert "secret" in caught.value.detail
    assert WeChatOAAdapter.secret_fields == ("secret", "token", "encoding_aes_key")


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"data": {"first": "x"}}, "content.template_id"),
        ({"template_id": "T", "data": {}}, "content.data"),
        ({"template_id": "T", "data": {"first": {"color": "#000"}}}, "content.data.first"),
        (
            {"template_id": "T", "data": {"a": "x"}, "miniprogram": {"pagepath": "p"}},
            "content.miniprogram",
        ),
    ],
)
def test_content_validation(content, field):
    with pytest.raises(serializers.ValidationError) as caught:
        WeChatOAAdapter.validate_content("wechat_oa", content)
    assert field in caught.value.detail


def test_valid_content_passes():
    WeChatOAAdapter.validate_content("wechat_oa", {**CONTENT, "data": {"first": "{$name}"}})
