from __future__ import annotations

import json
import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.feishu_app.adapter import FeishuAppAdapter
from channels_app.providers.feishu_app.fake import SEND_PATH, FakeFeishuApp


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


@pytest.fixture
def fake():
    return FakeFeishuApp()


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake, server, **config) -> FeishuAppAdapter:
    config = {"app_id": fake.app_id, "app_secret": fake.app_secret, **config}
    return FeishuAppAdapter(FeishuAppAdapter.validate_config(config), base_url=server.url)


def message(receiver: str = "ou_ann", content: dict | None = None) -> OutboundMessage:
    return OutboundMessage(
        id=1, message_id=str(uuid.uuid4()), receiver=receiver,
        content=content or {"msg_type": "text", "text": "Deploy done"},
    )  # fmt: skip


def test_send_answers_feishus_message_id(fake, server):
    first, second = message("ou_ann"), message("ou_bob")
    results = adapter(fake, server).send([first, second])
    assert [r.ok for r in results] == [True, True]
    assert [r.provider_message_id for r in results] == list(fake.messages)
    assert results[0].provider_message_id.startswith("om_")
    sent = server.requests[-2]
    assert sent.path == SEND_PATH
    assert sent.query["receive_id_type"] == ["open_id"]
    assert sent.json == {
        "receive_id": "ou_ann", "msg_type": "text", "content": json.dumps({"text": "Deploy done"}),
        "uuid": first.message_id,
    }  # fmt: skip
    assert fake.token_calls == 1


def test_post_and_card_contents_and_chat_receivers(fake, server):
    post = {"msg_type": "post", "title": "T", "text": "a\nb"}
    card = {"msg_type": "interactive", "card": {"elements": []}}
    results = adapter(fake, server, receive_id_type="chat_id").send(
        [message("oc_1", post), message("oc_1", card)]
    )
    assert all(r.ok for r in results)
    first, second = fake.accepted()
    assert first["content"] == {"zh_cn": {"title": "T", "content": [
        [{"tag": "text", "text": "a"}], [{"tag": "text", "text": "b"}]]}}  # fmt: skip
    assert second["content"] == {"elements": []}
    assert server.requests[-1].query["receive_id_type"] == ["chat_id"]


def test_a_retried_send_is_one_message(fake, server):
    again = message()
    feishu = adapter(fake, server)
    [first] = feishu.send([again])
    [second] = feishu.send([again])
    assert first.provider_message_id == second.provider_message_id
    assert len(fake.messages) == 1


def test_rejected_token_is_refreshed_once(fake, server):
    feishu = adapter(fake, server)
    feishu.send([message()])
    fake.tokens.clear()
    [result] = feishu.send([message()])
    assert result.ok
    assert fake.token_calls == 2


def test_errors_are_classified(fake, server):
    fake.unknown_receivers.add("ou_stranger")
    fake.faults += [
        Reply(status=400, body={"code": 99991400, "msg": "request trigger frequency limit"}),
    ]
    [limited, skipped] = adapter(fake, server).send([message(), message()])
    assert limited.error.rate_limited and skipped.error.rate_limited
    [stranger] = adapter(fake, server).send([message("ou_stranger")])
    assert stranger.error.permanent
    assert stranger.error.code == "230013"
    fake.faults.append(Reply(status=502, body=b"bad gateway"))
    [outage] = adapter(fake, server).send([message()])
    assert not outage.error.permanent
    assert outage.error.code == "502"


def test_wrong_secret_is_permanent_and_not_leaked(fake, server):
    [result] = adapter(fake, server, app_secret="wrong-app-secret").send([message()])
    assert result.error.permanent
    assert result.error.code == "10003"
    assert "wrong-app-secret" not in str(result.error)


def test_config_and_content_validation():
    with pytest.raises(serializers.ValidationError) as caught:
        FeishuAppAdapter.validate_config({"app_id": "cli", "app_secret": "s",
                                          "receive_id_type": "phone"})  # fmt: skip
    assert "receive_id_type" in caught.value.detail
    assert FeishuAppAdapter.secret_fields == ("app_secret",)
    with pytest.raises(serializers.ValidationError) as caught:
        FeishuAppAdapter.validate_content("feishu", {"msg_type": "text"})
    assert "content.text" in caught.value.detail
