"""WeCom image and file messages: uploaded once per app and content, limits checked on save
and by the fake's upload contract."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.wecom_app.adapter import WeComAppAdapter
from channels_app.providers.wecom_app.fake_media import FakeWeComWithMedia

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
PDF = b"%PDF-1.7\n" + b"x" * 4096


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()


@pytest.fixture
def files():
    """A file server the media URLs point at (the egress guard allows loopback in tests)."""
    served = {"/chart.png": (PNG, "image/png"), "/huge.png": (PNG * 6000, "image/png")}
    hits: list[str] = []

    def respond(request):
        hits.append(request.path)
        body, kind = served.get(request.path, (b"missing", "text/plain"))
        return Reply(200 if request.path in served else 404, body, {"Content-Type": kind})

    with FakeHTTPServer(respond) as server:
        server.hits = hits
        yield server


def _message(content, receiver="ann") -> OutboundMessage:
    return OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver=receiver, content=content)


def _app(fake, server) -> WeComAppAdapter:
    config = {"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid}
    return WeComAppAdapter(WeComAppAdapter.validate_config(config), base_url=server.url)


def test_an_image_from_a_url_is_uploaded_once_for_many_messages(files):
    fake = FakeWeComWithMedia()
    content = {"msgtype": "image", "media": {"url": files.url + "/chart.png"}}
    WeComAppAdapter.validate_content("wecom", content)
    with FakeHTTPServer(fake) as server:
        first = _app(fake, server).send([_message(content, "ann")])
        second = _app(fake, server).send([_message(content, "bob")])

    assert [r.ok for r in first + second] == [True, True], (first, second)
    [upload] = fake.store.uploads
    assert (upload.field, upload.filename, upload.content) == ("media", "chart.png", PNG)
    assert files.hits == ["/chart.png"]  # the second send reused the media id
    assert {body["image"]["media_id"] for body in fake.accepted} == set(fake.store.media)


def test_a_file_kept_in_the_template_is_sent_as_a_file_message():
    fake = FakeWeComWithMedia()
    media = {"content_base64": base64.b64encode(PDF).decode(), "filename": "report.pdf"}
    content = {"msgtype": "file", "media": media}
    WeComAppAdapter.validate_content("wecom", content)
    with FakeHTTPServer(fake) as server:
        [result] = _app(fake, server).send([_message(content)])

    assert result.ok, result.error
    [upload] = fake.store.uploads
    assert (upload.filename, upload.content_type, upload.content) == (
        "report.pdf", "application/pdf", PDF,
    )  # fmt: skip
    assert fake.accepted[0]["file"]["media_id"] in fake.store.media


def test_limits_are_checked_when_the_template_is_saved_and_when_fetched(files):
    too_big = base64.b64encode(PNG * 6000).decode()  # 12 MB > WeCom's 10 MB for images
    with pytest.raises(serializers.ValidationError) as big:
        WeComAppAdapter.validate_content(
            "wecom", {"msgtype": "image", "media": {"content_base64": too_big, "filename": "a.png"}}
        )
    with pytest.raises(serializers.ValidationError) as gif:
        WeComAppAdapter.validate_content(
            "wecom", {"msgtype": "image", "media": {"url": "https://cdn.example.com/a.gif"}}
        )
    fake = FakeWeComWithMedia()
    with FakeHTTPServer(fake) as server, pytest.raises(DeliveryError) as fetched_too_big:
        # The whole call fails: no message of this content can be sent.
        _app(fake, server).send(
            [_message({"msgtype": "image", "media": {"url": files.url + "/huge.png"}})]
        )

    assert "content.media.content_base64" in big.value.detail
    assert "content.media.content_type" in gif.value.detail
    assert fetched_too_big.value.permanent and fetched_too_big.value.code == "media"
    assert "larger than" in str(fetched_too_big.value)
    assert fake.store.uploads == []
