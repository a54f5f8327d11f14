"""Telegram photos and documents: uploaded on the first send, then sent by file_id."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.telegram.adapter import TelegramAdapter
from channels_app.providers.telegram.fake_media import FakeTelegramWithMedia

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 4096
PDF = b"%PDF-1.7\n" + b"y" * 4096


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


def _inline(body: bytes, filename: str) -> dict:
    return {"content_base64": base64.b64encode(body).decode(), "filename": filename}


def _message(content, chat="1001") -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver=chat, content=content)


def test_the_first_send_uploads_and_the_next_ones_reuse_the_file_id():
    fake = FakeTelegramWithMedia()
    photo = {"media_type": "photo", "media": _inline(PNG, "chart.png"), "caption": "Q3 {$x}"}
    report = {"media_type": "document", "media": _inline(PDF, "report.pdf")}
    for content in (photo, report):
        TelegramAdapter.validate_content("telegram", content)
    with FakeHTTPServer(fake) as server:
        bot = TelegramAdapter(
            TelegramAdapter.validate_config({"bot_token": fake.token}), base_url=server.url
        )
        results = bot.send([_message(photo, "1001"), _message(photo, "-100200")])
        results += bot.send([_message(report, "1001"), _message(report, "-100200")])

    assert [r.ok for r in results] == [True] * 4, results
    assert [u.filename for u in fake.store.uploads] == ["chart.png", "report.pdf"]
    uploaded = [m["uploaded"] is not None for m in fake.media_sent]
    assert uploaded == [True, False, True, False]
    assert fake.media_sent[1]["photo"] == fake.media_sent[0]["photo"]
    assert fake.media_sent[0]["caption"] == "Q3 {$x}"
    assert results[1].provider_message_id == f"-100200:{fake.media_sent[1]['message_id']}"


def test_media_limits_and_shapes_are_checked_on_save():
    with pytest.raises(serializers.ValidationError) as not_an_image:
        TelegramAdapter.validate_content(
            "telegram", {"media_type": "photo", "media": _inline(PDF, "report.pdf")}
        )
    with pytest.raises(serializers.ValidationError) as unknown:
        TelegramAdapter.validate_content(
            "telegram", {"media_type": "voice", "media": _inline(PDF, "a.ogg")}
        )

    assert "content.media.content_type" in not_an_image.value.detail
    assert "content.media_type" in unknown.value.detail
