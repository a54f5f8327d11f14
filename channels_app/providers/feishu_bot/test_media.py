"""Feishu bot images: uploaded once through the tenant's app, sent by image_key."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.feishu_bot.adapter import FeishuBotAdapter
from channels_app.providers.feishu_bot.fake_media import FakeFeishuWithImages

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 1024
IMAGE = {"msg_type": "image",
         "media": {"content_base64": base64.b64encode(PNG).decode(), "filename": "chart.png"}}  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


def _message(content) -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver="ops", content=content)


def _bot(fake, server, **config) -> FeishuBotAdapter:
    config = {"token": fake.token, "secret": fake.secret, **config}
    return FeishuBotAdapter(FeishuBotAdapter.validate_config(config), base_url=server.url)


def test_an_image_is_uploaded_once_through_the_app_and_sent_by_key():
    fake = FakeFeishuWithImages()
    FeishuBotAdapter.validate_content("feishu", IMAGE)
    with FakeHTTPServer(fake) as server:
        bot = _bot(fake, server, app_id=fake.app_id, app_secret=fake.app_secret)
        results = bot.send([_message(IMAGE), _message(IMAGE)])

    assert [r.ok for r in results] == [True, True], results
    [upload] = fake.store.uploads
    assert upload.content == PNG
    keys = [body["content"]["image_key"] for body in fake.accepted]
    assert keys == [next(iter(fake.store.media))] * 2


def test_without_app_credentials_or_with_wrong_ones_images_fail_for_good():
    fake = FakeFeishuWithImages()
    with FakeHTTPServer(fake) as server:
        [no_app] = _bot(fake, server).send([_message(IMAGE)])
        [wrong] = _bot(fake, server, app_id=fake.app_id, app_secret="nope").send([_message(IMAGE)])

    assert no_app.error.permanent and no_app.error.code == "media"
    assert wrong.error.permanent
    assert fake.accepted == [] and fake.store.uploads == []


def test_image_limits_are_checked_on_save():
    with pytest.raises(serializers.ValidationError) as pdf:
        FeishuBotAdapter.validate_content(
            "feishu", {"msg_type": "image", "media": {"url": "https://cdn.example.com/a.pdf"}}
        )
    with pytest.raises(serializers.ValidationError) as half:
        FeishuBotAdapter.validate_config({"token": "t", "app_id": "cli_x"})

    assert "content.media.content_type" in pdf.value.detail
    assert "app_secret" in half.value.detail
