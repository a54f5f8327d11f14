"""Files uploaded to Tidings for media messages: POST /api/v1/media, named by templates as
content.media.file, read by the workers; an App never reaches another App's file."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_app.models import ChannelAccount, MediaFile
from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.wecom_app.adapter import WeComAppAdapter
from channels_app.providers.wecom_app.fake_media import FakeWeComWithMedia
from notify.services import app_create

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 4096


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    cache.clear()


def _upload(api, body: bytes = PNG, name: str = "chart.png", **extra):
    return api.post(
        "/api/v1/media", {"file": SimpleUploadedFile(name, body), **extra}, format="multipart"
    )


def test_an_upload_is_described_by_its_bytes_not_its_name(api):
    response = _upload(api, PNG, "renamed.pdf")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["filename"], body["content_type"], body["size"]) == (
        "renamed.pdf", "image/png", len(PNG),
    )  # fmt: skip
    assert api.get(f"/api/v1/media/{body['id']}").json() == body


def test_bad_uploads_are_4xx_naming_the_field(api, settings):
    settings.TIDINGS_MEDIA_MAX_BYTES = 1000

    missing = api.post("/api/v1/media", {}, format="multipart")
    empty = _upload(api, b"", "empty.png")
    too_big = _upload(api, PNG, "chart.png")

    assert (missing.status_code, empty.status_code, too_big.status_code) == (400, 400, 400)
    assert "file" in missing.json()["fields"]
    assert "file" in too_big.json()["fields"]
    assert MediaFile.objects.count() == 0


def test_templates_use_their_own_apps_files_only(api, tenant):
    mine = _upload(api).json()["id"]
    other_app, _key = app_create("other")
    theirs = MediaFile.objects.create(
        id=uuid.uuid4(), app=other_app, file="media/x.png", filename="x.png",
        content_type="image/png", size=10, sha256="0" * 64,
    )  # fmt: skip
    account = ChannelAccount.objects.create(
        app=tenant, name="wecom", channel="wecom", provider="wecom_app",
        config={"corpid": "ww", "corpsecret": "s", "agentid": 1},
    )  # fmt: skip

    def template(code, file_id):
        return api.post(
            "/api/v1/templates",
            {"code": code, "name": code, "channel": "wecom", "receiver_type": "user_id",
             "channel_account": account.pk,
             "content": {"msgtype": "image", "media": {"file": str(file_id)}}},
            format="json",
        )  # fmt: skip

    assert template("mine", mine).status_code == 201
    refused = template("theirs", theirs.pk)
    assert refused.status_code == 400
    assert "content.media.file" in str(refused.json())
    assert api.get(f"/api/v1/media/{theirs.pk}").status_code == 404
    assert api.delete(f"/api/v1/media/{theirs.pk}").status_code == 404


def test_a_worker_sends_an_uploaded_file_and_uploads_it_to_the_provider_once(api):
    file_id = _upload(api).json()["id"]
    content = {"msgtype": "image", "media": {"file": file_id}}
    WeComAppAdapter.validate_content("wecom", content)
    fake = FakeWeComWithMedia()
    with FakeHTTPServer(fake) as server:
        config = {"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid}
        adapter = WeComAppAdapter(WeComAppAdapter.validate_config(config), base_url=server.url)
        results = [
            adapter.send([OutboundMessage(id=n, message_id=str(uuid.uuid4()), receiver=user,
                                          content=content)])[0]
            for n, user in enumerate(("ann", "bob"))
        ]  # fmt: skip

    assert [r.ok for r in results] == [True, True], results
    [upload] = fake.store.uploads
    assert (upload.filename, upload.content) == ("chart.png", PNG)


def test_deleting_a_file_fails_later_sends_for_good(api):
    file_id = _upload(api).json()["id"]
    assert api.delete(f"/api/v1/media/{file_id}").status_code == 204
    fake = FakeWeComWithMedia()
    config = {"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid}
    message = OutboundMessage(id=1, message_id=str(uuid.uuid4()), receiver="ann",
                              content={"msgtype": "image", "media": {"file": file_id}})  # fmt: skip
    with FakeHTTPServer(fake) as server:
        adapter = WeComAppAdapter(WeComAppAdapter.validate_config(config), base_url=server.url)
        with pytest.raises(DeliveryError) as gone:
            adapter.send([message])

    assert gone.value.permanent and gone.value.code == "media"
    assert fake.store.uploads == []
