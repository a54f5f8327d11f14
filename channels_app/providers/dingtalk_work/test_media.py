"""DingTalk media: work notices upload images and files once per app and content; robots
show images by URL (they have no upload API) and refuse files on save."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.dingtalk_work.adapter import DingTalkWorkAdapter
from channels_app.providers.dingtalk_work.fake_media import FakeDingTalkWorkWithMedia
from channels_app.providers.fakes_http import FakeHTTPServer

GIF = b"GIF89a" + b"\x00" * 512
PDF = b"%PDF-1.7\n" + b"x" * 2048


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


def _message(content, receiver="user1") -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content)


def _inline(body: bytes, filename: str) -> dict:
    return {"content_base64": base64.b64encode(body).decode(), "filename": filename}


def test_work_notices_upload_each_file_once_and_send_its_media_id():
    fake = FakeDingTalkWorkWithMedia()
    image = {"msgtype": "image", "media": _inline(GIF, "banner.gif")}
    report = {"msgtype": "file", "media": _inline(PDF, "report.pdf")}
    for content in (image, report):
        DingTalkWorkAdapter.validate_content("dingtalk", content)
    with FakeHTTPServer(fake) as server:
        config = {"appkey": fake.appkey, "appsecret": fake.appsecret, "agent_id": fake.agent_id}
        adapter = DingTalkWorkAdapter(
            DingTalkWorkAdapter.validate_config(config), base_url=server.url
        )
        results = adapter.send([_message(image, "u1"), _message(report, "u1")])
        results += adapter.send([_message(image, "u2")])

    assert [r.ok for r in results] == [True, True, True], results
    assert [u.filename for u in fake.store.uploads] == ["banner.gif", "report.pdf"]
    sent = [body["msg"] for body in fake.accepted]
    assert [m["msgtype"] for m in sent] == ["image", "file", "image"]
    assert sent[0]["image"]["media_id"] == sent[2]["image"]["media_id"]


def test_work_notice_file_types_follow_dingtalk():
    with pytest.raises(serializers.ValidationError) as exe:
        DingTalkWorkAdapter.validate_content(
            "dingtalk", {"msgtype": "file", "media": _inline(b"MZ" * 100, "setup.exe")}
        )

    assert "content.media.content_type" in exe.value.detail
