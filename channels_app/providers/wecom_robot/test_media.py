"""WeCom robot media: images inline (base64 + MD5), files uploaded once per robot."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.core.cache import cache

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.wecom_robot.adapter import WeComRobotAdapter
from channels_app.providers.wecom_robot.fake_media import FakeWeComRobotWithMedia

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
PDF = b"%PDF-1.7\n" + b"x" * 4096


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


def _message(content, receiver="ann") -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content)


def test_the_robot_sends_images_inline_and_uploads_files_once():
    fake = FakeWeComRobotWithMedia()
    image = {"msgtype": "image", "media": {"content_base64": base64.b64encode(PNG).decode(),
                                           "filename": "chart.png"}}  # fmt: skip
    attachment = {"msgtype": "file", "media": {"content_base64": base64.b64encode(PDF).decode(),
                                               "filename": "report.pdf"}}  # fmt: skip
    for content in (image, attachment):
        WeComRobotAdapter.validate_content("wecom", content)
    with FakeHTTPServer(fake) as server:
        robot = WeComRobotAdapter(
            WeComRobotAdapter.validate_config({"key": fake.key}), base_url=server.url
        )
        results = robot.send([_message(image)]) + robot.send([_message(attachment)])
        results += robot.send([_message(attachment)])

    assert [r.ok for r in results] == [True, True, True], results
    assert fake.images == [PNG]
    assert [u.filename for u in fake.store.uploads] == ["report.pdf"]
