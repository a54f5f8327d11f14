from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.wecom_app.adapter import WeComAppAdapter
from channels_app.providers.wecom_app.fake import FakeWeCom

TEXT = {"msgtype": "text", "content": "Deploy finished"}


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


@pytest.fixture
def fake():
    return FakeWeCom()


@pytest.fixture
def server(fake):
    with FakeHTTPServer(fake) as server:
        yield server


def adapter(fake, server, **config) -> WeComAppAdapter:
    config = {
        "corpid": fake.corpid,
        "corpsecret": fake.corpsecret,
        "agentid": fake.agentid,
        **config,
    }
    return WeComAppAdapter(WeComAppAdapter.validate_config(config), base_url=server.url)


def message(receiver: str, content: dict | None = None) -> OutboundMessage:
    return OutboundMessage(
        id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content or TEXT
    )


def test_identical_content_is_one_call_with_joined_users(fake, server):
    markdown = {"msgtype": "markdown", "content": "**hi**"}
    batch = [message("ann"), message("bob", markdown), message("cid"), message("ann")]
    results = adapter(fake, server).send(batch)
    assert all(r.ok for r in results)
    # ann twice with the same content goes to a second call, or WeCom would deliver it once.
    assert [(b["msgtype"], b["touser"]) for b in fake.accepted] == [
        ("text", "ann|cid"),
        ("markdown", "bob"),
        ("text", "ann"),
    ]
    assert results[0].provider_message_id == results[2].provider_message_id
    assert len({r.provider_message_id for r in results}) == 3
    first = fake.accepted[0]
    assert first["agentid"] == fake.agentid
    assert first["text"] == {"content": "Deploy finished"}
    assert first["safe"] == 0
    assert first["enable_duplicate_check"] == 0
    assert fake.token_calls == 1


def test_a_full_batch_fits_one_call(fake, server):
    batch = [message(f"user{i}") for i in range(WeComAppAdapter.max_batch_size)]
    results = adapter(fake, server).send(batch)
    assert all(r.ok for r in results)
    assert len(fake.accepted) == 1
    assert len(fake.accepted[0]["touser"].split("|")) == 1000


def test_textcard_and_news_payloads(fake, server):
    card = {
        "msgtype": "textcard",
        "title": "T",
        "description": "D",
        "url": "https://e.com",
        "btntxt": "More",
    }
    news = {"msgtype": "news", "articles": [{"title": "A", "url": "https://e.com", "picurl": ""}]}
    results = adapter(fake, server).send([message("ann", card), message("ann", news)])
    assert all(r.ok for r in results)
    assert fake.accepted[0]["textcard"] == {
        k: card[k] for k in ("title", "description", "url", "btntxt")
    }
    assert fake.accepted[1]["news"] == {"articles": [{"title": "A", "url": "https://e.com"}]}


def test_invalid_and_unlicensed_users_are_sent_then_undelivered(fake, server):
    batch = [message("ann"), message("InvalidBob"), message("UnlicensedCid"), message("dan")]
    results = adapter(fake, server).send(batch)
    assert all(r.ok for r in results)
    assert len({r.provider_message_id for r in results}) == 1  # one call
    assert [r.undelivered for r in results] == [
        "",
        "wecom: invaliduser (unknown userid or outside the app's range)",
        "wecom: unlicenseduser (user has no WeCom license)",
        "",
    ]


def test_all_receivers_invalid_is_permanent(fake, server):
    [result] = adapter(fake, server).send([message("invalid-1")])
    assert result.error.permanent
    assert result.error.code == "81013"
    assert "hint" not in result.error.reason
    assert "from ip" not in result.error.reason


def test_token_cached_and_expired_token_refreshed(fake, server):
    adapter(fake, server).send([message("ann")])
    adapter(fake, server).send([message("ann")])
    assert fake.token_calls == 1
    fake.expire_tokens()
    [result] = adapter(fake, server).send([message("ann")])
    assert result.ok
    assert fake.token_calls == 2
    assert len(fake.accepted) == 3


def test_rate_limited(fake, server):
    fake.quota = 0
    [result] = adapter(fake, server).send([message("ann")])
    assert result.error.rate_limited
    assert result.error.code == "45009"


def test_failed_group_does_not_fail_the_others(fake, server):
    fake.faults.append(Reply(status=500, body={"errcode": -1, "errmsg": "system busy"}))
    markdown = {"msgtype": "markdown", "content": "x"}
    failed, delivered = adapter(fake, server).send([message("ann"), message("ann", markdown)])
    assert not failed.error.permanent
    assert failed.error.code == "500"
    assert delivered.ok


def test_timeout_is_transient(fake, server, settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.2
    fake.delay = 0.5
    [result] = adapter(fake, server).send([message("ann")])
    assert not result.error.permanent
    assert result.error.code == "timeout"


def test_wrong_secret_and_agentid_are_permanent(fake, server):
    [result] = adapter(fake, server, corpsecret="bad-secret-value").send([message("ann")])
    assert result.error.permanent
    assert result.error.code == "40001"
    assert "bad-secret-value" not in str(result.error)
    [result] = adapter(fake, server, agentid=1).send([message("ann")])
    assert result.error.permanent
    assert result.error.code == "40056"


def test_recall(fake, server):
    wecom = adapter(fake, server)
    [result] = wecom.send([message("ann")])
    wecom.recall(result.provider_message_id)
    assert fake.recalled == [result.provider_message_id]
    with pytest.raises(DeliveryError) as caught:
        wecom.recall(result.provider_message_id)  # already recalled
    assert caught.value.permanent
    assert caught.value.code == "40058"


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as caught:
        WeComAppAdapter.validate_config({"corpid": "ww", "corpsecret": "s", "agentid": "abc"})
    assert "agentid" in caught.value.detail


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"msgtype": "voice"}, "content.msgtype"),
        ({"msgtype": "text"}, "content.content"),
        ({"msgtype": "textcard", "title": "T", "url": "u"}, "content.description"),
        ({"msgtype": "news", "articles": []}, "content.articles"),
        ({"msgtype": "news", "articles": [{"url": "u"}]}, "content.articles.0.title"),
    ],
)
def test_content_validation(content, field):
    with pytest.raises(serializers.ValidationError) as caught:
        WeComAppAdapter.validate_content("wecom", content)
    assert field in caught.value.detail
