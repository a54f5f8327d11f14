from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.dingtalk_work.adapter import DingTalkWorkAdapter
from channels_app.providers.dingtalk_work.fake import FakeDingTalkWork
from channels_app.providers.fakes_http import FakeHTTPServer, Reply

MARKDOWN = {"msgtype": "markdown", "title": "Build", "text": "## Build #42 passed"}


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


@pytest.fixture
def fake():
    return FakeDingTalkWork()


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake, server, **config) -> DingTalkWorkAdapter:
    config = {
        "appkey": fake.appkey,
        "appsecret": fake.appsecret,
        "agent_id": fake.agent_id,
        **config,
    }
    return DingTalkWorkAdapter(DingTalkWorkAdapter.validate_config(config), base_url=server.url)


def message(receiver: str, content: dict | None = None) -> OutboundMessage:
    return OutboundMessage(
        id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content or MARKDOWN
    )


def test_identical_content_is_one_call_and_task_id_is_the_id(fake, server):
    text = {"msgtype": "text", "content": "hi"}
    results = adapter(fake, server).send([message("u1"), message("u2", text), message("u3")])
    assert all(r.ok for r in results)
    assert fake.accepted == [
        {
            "agent_id": fake.agent_id,
            "userid_list": "u1,u3",
            "msg": {
                "msgtype": "markdown",
                "markdown": {"title": "Build", "text": "## Build #42 passed"},
            },
        },
        {
            "agent_id": fake.agent_id,
            "userid_list": "u2",
            "msg": {"msgtype": "text", "text": {"content": "hi"}},
        },
    ]
    assert results[0].provider_message_id == results[2].provider_message_id
    assert int(results[0].provider_message_id) in fake.task_ids
    assert fake.token_calls == 1


def test_link_action_card_and_oa_payloads(fake, server):
    link = {
        "msgtype": "link",
        "title": "T",
        "text": "x",
        "message_url": "https://e.com",
        "pic_url": "https://e.com/p.png",
    }
    card = {
        "msgtype": "action_card",
        "title": "T",
        "text": "x",
        "buttons": [{"title": "OK", "url": "https://e.com/ok"}],
    }
    oa = {
        "msgtype": "oa",
        "message_url": "https://e.com",
        "body": {"title": "Leave", "content": "approved"},
    }
    results = adapter(fake, server).send(
        [message("u1", link), message("u1", card), message("u1", oa)]
    )
    assert all(r.ok for r in results)
    msgs = [body["msg"] for body in fake.accepted]
    assert msgs[0]["link"] == {
        "title": "T",
        "text": "x",
        "messageUrl": "https://e.com",
        "picUrl": "https://e.com/p.png",
    }
    assert msgs[1]["action_card"] == {
        "title": "T",
        "markdown": "x",
        "btn_orientation": "0",
        "btn_json_list": [{"title": "OK", "action_url": "https://e.com/ok"}],
    }
    assert msgs[2]["oa"]["body"] == {"title": "Leave", "content": "approved"}
    assert msgs[2]["oa"]["message_url"] == "https://e.com"


def test_token_cached_and_expired_token_refreshed(fake, server):
    adapter(fake, server).send([message("u1")])
    adapter(fake, server).send([message("u1")])
    assert fake.token_calls == 1
    fake.expire_tokens()  # DingTalk answers 40014 for an expired token
    [result] = adapter(fake, server).send([message("u1")])
    assert result.ok
    assert fake.token_calls == 2
    assert len(fake.accepted) == 3


def test_rate_limited(fake, server):
    fake.quota = 0
    [result] = adapter(fake, server).send([message("u1")])
    assert result.error.rate_limited
    assert result.error.code == "90002"


def test_bad_credentials_and_bad_agent_are_permanent(fake, server):
    [result] = adapter(fake, server, appsecret="leaky-secret").send([message("u1")])
    assert result.error.permanent
    assert result.error.code == "40089"
    assert "leaky-secret" not in str(result.error)
    [result] = adapter(fake, server, agent_id=1).send([message("u1")])
    assert result.error.permanent
    assert result.error.code == "40035"


def test_5xx_and_system_busy_and_timeout_are_transient(fake, server, settings):
    fake.faults += [
        Reply(status=500, body={"errcode": -1, "errmsg": "系统繁忙"}),
        Reply(body={"errcode": -1, "errmsg": "系统繁忙"}),
    ]
    [result] = adapter(fake, server).send([message("u1")])
    assert result.error.code == "500"
    assert not result.error.permanent
    [result] = adapter(fake, server).send([message("u1")])
    assert result.error.code == "-1"
    assert not result.error.permanent
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.2
    fake.delay = 0.5
    [result] = adapter(fake, server).send([message("u1")])
    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_top_gateway_wrapped_token_error_is_refreshed(fake, server):
    adapter(fake, server).send([message("u1")])
    wrapped = {
        "errcode": 88,
        "errmsg": "ding talk error[subcode=40014]",
        "sub_code": "40014",
        "sub_msg": "不合法的access_token",
    }
    fake.faults.append(Reply(body=wrapped))
    [result] = adapter(fake, server).send([message("u1")])
    assert result.ok
    assert fake.token_calls == 2


def test_recall(fake, server):
    ding = adapter(fake, server)
    [result] = ding.send([message("u1")])
    ding.recall(result.provider_message_id)
    assert fake.recalled == [int(result.provider_message_id)]
    with pytest.raises(DeliveryError) as caught:
        ding.recall("999")
    assert caught.value.permanent
    assert caught.value.code == "40035"


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as caught:
        DingTalkWorkAdapter.validate_config({"appkey": "k", "appsecret": "s"})
    assert "agent_id" in caught.value.detail


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"msgtype": "markdown", "text": "x"}, "content.title"),
        ({"msgtype": "markdown", "title": "x"}, "content.text"),
        ({"msgtype": "feedCard"}, "content.msgtype"),
        ({"msgtype": "link", "title": "T", "text": "x", "message_url": "u"}, "content.pic_url"),
        ({"msgtype": "action_card", "title": "T", "text": "x"}, "content.single_url"),
        ({"msgtype": "oa", "message_url": "u"}, "content.body"),
    ],
)
def test_content_validation(content, field):
    with pytest.raises(serializers.ValidationError) as caught:
        DingTalkWorkAdapter.validate_content("dingtalk", content)
    assert field in caught.value.detail
