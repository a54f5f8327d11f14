from __future__ import annotations

import uuid

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.wecom_robot.adapter import WeComRobotAdapter
from channels_app.providers.wecom_robot.fake import FakeWeComRobot


@pytest.fixture
def fake():
    return FakeWeComRobot()


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake, server, key: str | None = None) -> WeComRobotAdapter:
    config = WeComRobotAdapter.validate_config({"key": key or fake.key})
    return WeComRobotAdapter(config, base_url=server.url)


def message(content: dict) -> OutboundMessage:
    return OutboundMessage(
        id=1, message_id=str(uuid.uuid4()), receiver="ops-group", content=content
    )


def test_text_with_mentions_markdown_and_news(fake, server):
    text = {
        "msgtype": "text",
        "content": "Disk full",
        "mentioned_list": "alice,@all",
        "mentioned_mobile_list": ["13800001111"],
    }
    markdown = {"msgtype": "markdown", "content": "# Disk\n> 95%"}
    news = {"msgtype": "news", "articles": [{"title": "Runbook", "url": "https://e.com/rb"}]}
    results = adapter(fake, server).send([message(text), message(markdown), message(news)])
    assert all(r.ok for r in results)
    assert fake.accepted == [
        {
            "msgtype": "text",
            "text": {
                "content": "Disk full",
                "mentioned_list": ["alice", "@all"],
                "mentioned_mobile_list": ["13800001111"],
            },
        },
        {"msgtype": "markdown", "markdown": {"content": "# Disk\n> 95%"}},
        {
            "msgtype": "news",
            "news": {"articles": [{"title": "Runbook", "url": "https://e.com/rb"}]},
        },
    ]
    assert server.requests[0].query == {"key": [fake.key]}


def test_wrong_key_is_permanent_and_not_leaked(fake, server):
    [result] = adapter(fake, server, key="leaky-key").send([message({"content": "x"})])
    assert result.error.permanent
    assert result.error.code == "93000"
    assert "leaky-key" not in str(result.error)


def test_rate_limit_stops_the_batch(fake, server):
    fake.per_minute = 1
    results = adapter(fake, server).send([message({"content": str(i)}) for i in range(3)])
    assert results[0].ok
    assert all(r.error.rate_limited and r.error.code == "45009" for r in results[1:])
    assert len(server.requests) == 2


def test_too_long_text_is_permanent(fake, server):
    [result] = adapter(fake, server).send([message({"content": "x" * 3000})])
    assert result.error.permanent
    assert result.error.code == "45002"


def test_5xx_and_system_busy_and_timeout_are_transient(fake, server, settings):
    fake.faults += [
        Reply(status=500, body=b"oops"),
        Reply(body={"errcode": -1, "errmsg": "system busy"}),
    ]
    first, second = adapter(fake, server).send(
        [message({"content": "a"}), message({"content": "b"})]
    )
    assert first.error.code == "500"
    assert not first.error.permanent
    assert second.error.code == "-1"
    assert not second.error.permanent
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.2
    fake.delay = 0.5
    [result] = adapter(fake, server).send([message({"content": "c"})])
    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as caught:
        WeComRobotAdapter.validate_config({})
    assert "key" in caught.value.detail


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"msgtype": "textcard", "title": "T"}, "content.msgtype"),
        ({"msgtype": "markdown"}, "content.content"),
        ({"msgtype": "news", "articles": [{"title": "no url"}]}, "content.articles.0.url"),
        ({"content": "x", "mentioned_list": 5}, "content.mentioned_list"),
    ],
)
def test_content_validation(content, field):
    with pytest.raises(serializers.ValidationError) as caught:
        WeComRobotAdapter.validate_content("wecom", content)
    assert field in caught.value.detail
