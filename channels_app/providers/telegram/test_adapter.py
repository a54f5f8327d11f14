from __future__ import annotations

import pytest
from rest_framework import serializers

from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.telegram.adapter import TelegramAdapter
from channels_app.providers.telegram.fake import FakeTelegram

TOKEN = "123456:test-token"


def _message(receiver: str, text: str = "hello", n: int = 1, **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"00000000-0000-0000-0000-{n:012d}",
        receiver=receiver,
        content={"text": text, **content},
    )


@pytest.fixture
def bot():
    fake = FakeTelegram(TOKEN, blocked={"-100200"})
    with FakeHTTPServer(fake) as server:
        server.fake = fake
        yield server


def _adapter(server: FakeHTTPServer, **config) -> TelegramAdapter:
    config = TelegramAdapter.validate_config({"bot_token": TOKEN, **config})
    return TelegramAdapter(config, base_url=server.url)


def test_send_posts_message_and_returns_chat_and_message_id(bot):
    # given
    adapter = _adapter(bot, parse_mode="HTML", disable_web_page_preview=True)

    # when
    results = adapter.send([_message("1001", "<b>hi</b>", 1), _message("@news", "two", 2)])

    # then
    assert [r.provider_message_id for r in results] == ["1001:1", "-100300:2"]
    request = bot.requests[0]
    assert request.path == f"/bot{TOKEN}/sendMessage"
    assert request.json == {
        "chat_id": "1001",
        "text": "<b>hi</b>",
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    assert [m["text"] for m in bot.fake.sent] == ["<b>hi</b>", "two"]


def test_content_parse_mode_overrides_config(bot):
    adapter = _adapter(bot, parse_mode="HTML")

    adapter.send([_message("1001", "*hi*", parse_mode="MarkdownV2")])

    assert bot.requests[0].json["parse_mode"] == "MarkdownV2"


def test_recall_deletes_the_sent_message(bot):
    adapter = _adapter(bot)
    [result] = adapter.send([_message("@news")])

    adapter.recall(result.provider_message_id)

    assert bot.fake.deleted == [("-100300", 1)]
    assert bot.requests[-1].json == {"chat_id": "-100300", "message_id": 1}
    with pytest.raises(DeliveryError) as excinfo:
        adapter.recall(result.provider_message_id)  # already gone
    assert excinfo.value.permanent
    assert "not found" in excinfo.value.reason


def test_unknown_chat_and_blocked_bot_fail_permanently_per_message(bot):
    adapter = _adapter(bot)

    results = adapter.send([_message("999", n=1), _message("-100200", n=2), _message("1001", n=3)])

    assert results[0].error.permanent
    assert results[0].error.code == "400"
    assert "chat not found" in results[0].error.reason
    assert results[1].error.permanent
    assert results[1].error.code == "403"
    assert "blocked" in results[1].error.reason
    assert results[2].provider_message_id == "1001:1"


def test_invalid_token_is_permanent_and_stops_the_batch(bot):
    config = TelegramAdapter.validate_config({"bot_token": "123456:wrong-token"})
    adapter = TelegramAdapter(config, base_url=bot.url)

    results = adapter.send([_message("1001", n=1), _message("1001", n=2)])

    assert len(bot.requests) == 1
    for result in results:
        assert result.error.permanent
        assert result.error.code == "401"
        assert "wrong-token" not in str(result.error)


def test_rate_limit_carries_retry_after_and_skips_the_rest(bot):
    bot.fake.retry_after = 7
    adapter = _adapter(bot)

    results = adapter.send([_message("1001", n=1), _message("1001", n=2)])

    assert len(bot.requests) == 1
    for result in results:
        assert result.error.rate_limited
        assert not result.error.permanent
        assert result.error.retry_after == 7


def test_server_error_is_transient():
    responder = lambda request: Reply(  # noqa: E731
        status=502, body={"ok": False, "error_code": 502, "description": "Bad Gateway"}
    )
    with FakeHTTPServer(responder) as server:
        [result] = _adapter(server).send([_message("1001")])

    assert not result.error.permanent
    assert not result.error.rate_limited
    assert result.error.code == "502"


def test_timeout_is_transient(bot, settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3
    bot.fake.delay = 0.8

    [result] = _adapter(bot).send([_message("1001")])

    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        TelegramAdapter.validate_config({"bot_token": "not a token", "parse_mode": "RTF"})

    assert set(excinfo.value.detail) == {"bot_token", "parse_mode"}
    assert "bot_token" in TelegramAdapter.secret_fields


def test_content_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        TelegramAdapter.validate_content("telegram", {"text": " "})
    assert "content.text" in excinfo.value.detail

    with pytest.raises(serializers.ValidationError) as excinfo:
        TelegramAdapter.validate_content("telegram", {"text": "x" * 4097, "parse_mode": "RTF"})
    assert set(excinfo.value.detail) == {"content.text", "content.parse_mode"}

    TelegramAdapter.validate_content("telegram", {"text": "ok", "parse_mode": "HTML"})
