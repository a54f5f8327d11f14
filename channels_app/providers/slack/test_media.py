"""Slack webhook images: an image block with the public URL (webhooks cannot upload)."""

from __future__ import annotations

import uuid

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.slack.adapter import SlackAdapter
from channels_app.providers.slack.fake import FakeSlackWebhook


def test_an_image_is_sent_as_an_image_block_of_its_public_url():
    fake = FakeSlackWebhook()
    content = {"text": "Daily chart", "alt_text": "sales by day",
               "media": {"url": "https://cdn.example.com/chart.png"}}  # fmt: skip
    SlackAdapter.validate_content("slack", content)
    with FakeHTTPServer(fake) as server:
        config = SlackAdapter.validate_config(
            {"webhook_url": "https://hooks.slack.com" + fake.path}
        )
        adapter = SlackAdapter(config, base_url=server.url)
        [result] = adapter.send(
            [OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver="#ops", content=content)]
        )

    assert result.ok, result.error
    [payload] = fake.posted
    assert payload["blocks"] == [
        {"type": "image", "image_url": "https://cdn.example.com/chart.png",
         "alt_text": "sales by day"}
    ]  # fmt: skip


def test_files_kept_in_tidings_cannot_go_through_a_webhook():
    with pytest.raises(serializers.ValidationError) as inline:
        SlackAdapter.validate_content(
            "slack", {"media": {"content_base64": "iVBORw0KGgo=", "filename": "a.png"}}
        )

    assert "content.media.url" in inline.value.detail
