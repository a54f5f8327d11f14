"""DingTalk robot images: shown by URL as markdown (robots have no upload API); files are
refused when the template is saved."""

from __future__ import annotations

import base64
import uuid

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.dingtalk_robot.adapter import DingTalkRobotAdapter
from channels_app.providers.dingtalk_robot.fake import FakeDingTalkRobot
from channels_app.providers.fakes_http import FakeHTTPServer

GIF = b"GIF89a" + b"\x00" * 512


def _message(content, receiver="user1") -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content)


def _inline(body: bytes, filename: str) -> dict:
    return {"content_base64": base64.b64encode(body).decode(), "filename": filename}


def test_robots_show_images_by_url_and_refuse_files():
    fake = FakeDingTalkRobot()
    content = {"msgtype": "image", "title": "Daily chart",
               "media": {"url": "https://cdn.example.com/chart.png"}}  # fmt: skip
    DingTalkRobotAdapter.validate_content("dingtalk", content)
    with FakeHTTPServer(fake) as server:
        config = DingTalkRobotAdapter.validate_config(
            {"access_token": fake.access_token, "secret": fake.secret}
        )
        [result] = DingTalkRobotAdapter(config, base_url=server.url).send([_message(content)])
    with pytest.raises(serializers.ValidationError) as inline:
        DingTalkRobotAdapter.validate_content(
            "dingtalk", {"msgtype": "image", "media": _inline(GIF, "a.gif")}
        )
    with pytest.raises(serializers.ValidationError) as file:
        DingTalkRobotAdapter.validate_content(
            "dingtalk", {"msgtype": "file", "media": {"url": "https://x.example/a.pdf"}}
        )

    assert result.ok, result.error
    [body] = fake.accepted
    assert body["markdown"] == {
        "title": "Daily chart", "text": "![Daily chart](https://cdn.example.com/chart.png)",
    }  # fmt: skip
    assert "content.media.url" in inline.value.detail
    assert "content.msgtype" in file.value.detail
