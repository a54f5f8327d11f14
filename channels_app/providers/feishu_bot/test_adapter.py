from __future__ import annotations

import uuid

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.feishu_bot.adapter import FeishuBotAdapter
from channels_app.providers.feishu_bot.fake import FakeFeishuBot


@pytest.fixture
def fake():
    return FakeFeishuBot()


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake, server, **config) -> FeishuBotAdapter:
    config = {"token": fake.token, "secret": fake.secret, **config}
    return FeishuBotAdapter(FeishuBotAdapter.validate_config(config), base_url=server.url)


def message(content: dict) -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver="ops", content=content)


def test_signed_text(fake, server):
    [result] = adapter(fake, server).send([message({"msg_type": "text", "text": "Deploy done"})])
    assert result.ok
    [body] = fake.accepted
    assert body["msg_type"] == "text"
    assert body["content"] == {"text": "Deploy done"}
    assert body["sign"] == fake.expected_sign(body["timestamp"])
    assert len(body["timestamp"]) == 10  # seconds, not milliseconds
    assert server.requests[0].path == f"/open-apis/bot/v2/hook/{fake.token}"


def test_post_and_interactive(fake, server):
    native = {"zh_cn": {"title": "N", "content": [[{"tag": "text", "text": "x"}]]}}
    card = {"elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "**x**"}}]}
    contents = [
        {"msg_type": "post", "title": "Build", "text": "line 1\nline 2"},
        {"msg_type": "post", "post": native},
        {"msg_type": "interactive", "card": card},
    ]
    results = adapter(fake, server).send([message(c) for c in contents])
    assert all(r.ok for r in results)
    simple, given, interactive = fake.accepted
    assert simple["content"]["post"] == {
        "zh_cn": {
            "title": "Build",
            "content": [[{"tag": "text", "text": "line 1"}], [{"tag": "text", "text": "line 2"}]],
        }
    }
    assert given["content"]["post"] == native
    assert interactive["card"] == card
    assert "content" not in interactive


def test_unsigned_bot(fake, server):
    fake.secret = ""
    [result] = adapter(fake, server, secret="").send([message({"text": "hi"})])
    assert result.ok
    assert "sign" not in fake.accepted[0]


def test_bad_sign_and_bad_token_are_permanent(fake, server):
    [result] = adapter(fake, server, secret="leaky").send([message({"text": "hi"})])
    assert result.error.permanent
    assert result.error.code == "19021"
    assert "leaky" not in str(result.error)
    [result] = adapter(fake, server, token="wrong-token").send([message({"text": "hi"})])
    assert result.error.permanent
    assert result.error.code == "19001"
    assert "wrong-token" not in str(result.error)


def test_frequency_limit_is_rate_limited(fake, server):
    fake.per_minute = 1
    results = adapter(fake, server).send([message({"text": str(i)}) for i in range(3)])
    assert results[0].ok
    assert all(r.error.rate_limited and r.error.code == "11232" for r in results[1:])
    assert len(server.requests) == 2


def test_5xx_and_system_busy_and_timeout_are_transient(fake, server, settings):
    fake.faults += [
        Reply(status=500, body={"code": -1, "msg": "system busy", "data": {}}),
        Reply(body={"code": -1, "msg": "system busy", "data": {}}),
    ]
    first, second = adapter(fake, server).send([message({"text": "a"}), message({"text": "b"})])
    assert first.error.code == "500"
    assert not first.error.permanent
    assert second.error.code == "-1"
    assert not second.error.permanent
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.2
    fake.delay = 0.5
    [result] = adapter(fake, server).send([message({"text": "c"})])
    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as caught:
        FeishuBotAdapter.validate_config({"secret": "s"})
    assert "token" in caught.value.detail


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"msg_type": "file", "file_key": "k"}, "content.msg_type"),
        ({"msg_type": "image", "image_key": "k"}, "content.media"),
        ({"msg_type": "text"}, "content.text"),
        ({"msg_type": "post", "text": "x"}, "content.title"),
        ({"msg_type": "post", "post": {}}, "content.post"),
        ({"msg_type": "interactive"}, "content.card"),
    ],
)
def test_content_validation(content, field):
    with pytest.raises(serializers.ValidationError) as caught:
        FeishuBotAdapter.validate_content("feishu", content)
    assert field in caught.value.detail
