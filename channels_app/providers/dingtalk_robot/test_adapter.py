from __future__ import annotations

import uuid

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.dingtalk_robot.adapter import DingTalkRobotAdapter
from channels_app.providers.dingtalk_robot.fake import FakeDingTalkRobot
from channels_app.providers.fakes_http import FakeHTTPServer, Reply


@pytest.fixture
def fake():
    return FakeDingTalkRobot()


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake, server, **config) -> DingTalkRobotAdapter:
    config = {"access_token": fake.access_token, "secret": fake.secret, **config}
    return DingTalkRobotAdapter(DingTalkRobotAdapter.validate_config(config), base_url=server.url)


def message(content: dict) -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver="ops", content=content)


def test_signed_text_with_mentions(fake, server):
    content = {
        "msgtype": "text",
        "content": "@13800001111 disk full",
        "at_mobiles": "13800001111",
        "is_at_all": "false",
    }
    [result] = adapter(fake, server).send([message(content)])
    assert result.ok
    assert fake.accepted == [
        {
            "msgtype": "text",
            "text": {"content": "@13800001111 disk full"},
            "at": {"atMobiles": ["13800001111"], "atUserIds": [], "isAtAll": False},
        }
    ]
    query = server.requests[0].query
    assert query["access_token"] == [fake.access_token]
    assert query["sign"] == [fake.expected_sign(query["timestamp"][0])]


def test_markdown_link_and_action_card(fake, server):
    contents = [
        {"msgtype": "markdown", "title": "T", "text": "# x", "is_at_all": True},
        {"msgtype": "link", "title": "T", "text": "x", "message_url": "https://e.com"},
        {
            "msgtype": "actionCard",
            "title": "T",
            "text": "x",
            "single_title": "Go",
            "single_url": "https://e.com",
        },
    ]
    results = adapter(fake, server).send([message(c) for c in contents])
    assert all(r.ok for r in results)
    markdown, link, card = fake.accepted
    assert markdown["at"] == {"atMobiles": [], "atUserIds": [], "isAtAll": True}
    assert link == {
        "msgtype": "link",
        "link": {"title": "T", "text": "x", "messageUrl": "https://e.com"},
    }
    assert card["actionCard"] == {
        "title": "T",
        "text": "x",
        "singleTitle": "Go",
        "singleURL": "https://e.com",
    }


def test_unsigned_robot_sends_no_sign(server, fake):
    fake.secret = ""
    [result] = adapter(fake, server, secret="").send([message({"content": "hi"})])
    assert result.ok
    assert "sign" not in server.requests[0].query


def test_sign_mismatch_and_bad_token_are_permanent(fake, server):
    [result] = adapter(fake, server, secret="SECwrong").send([message({"content": "hi"})])
    assert result.error.permanent
    assert result.error.code == "310000"
    assert "SECwrong" not in str(result.error)
    [result] = adapter(fake, server, access_token="nope").send([message({"content": "hi"})])
    assert result.error.permanent
    assert result.error.code == "300001"
    assert "nope" not in result.error.reason


def test_send_too_fast_is_rate_limited(fake, server):
    fake.per_minute = 1
    results = adapter(fake, server).send([message({"content": str(i)}) for i in range(3)])
    assert results[0].ok
    assert all(r.error.rate_limited and r.error.code == "130101" for r in results[1:])
    assert len(server.requests) == 2


def test_5xx_and_system_busy_and_timeout_are_transient(fake, server, settings):
    fake.faults += [
        Reply(status=502, body=b"bad gateway"),
        Reply(body={"errcode": -1, "errmsg": "系统繁忙"}),
    ]
    first, second = adapter(fake, server).send(
        [message({"content": "a"}), message({"content": "b"})]
    )
    assert first.error.code == "502"
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
        DingTalkRobotAdapter.validate_config({"secret": "SEC"})
    assert "access_token" in caught.value.detail


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"msgtype": "oa", "message_url": "u", "body": {}}, "content.msgtype"),
        ({"msgtype": "markdown", "text": "x"}, "content.title"),
        ({"msgtype": "text"}, "content.content"),
        (
            {"msgtype": "actionCard", "title": "T", "text": "x", "buttons": [{"title": "no url"}]},
            "content.buttons",
        ),
        ({"content": "x", "at_mobiles": 138}, "content.at_mobiles"),
    ],
)
def test_content_validation(content, field):
    with pytest.raises(serializers.ValidationError) as caught:
        DingTalkRobotAdapter.validate_content("dingtalk", content)
    assert field in caught.value.detail
