"""The WeCom robot's media contract, added to its fake: /cgi-bin/webhook/upload_media?key=&
type=file (multipart `media`, ≤ 20 MB, > 5 bytes), file messages naming an uploaded
media_id, and inline image messages whose base64 must be a JPG/PNG ≤ 2 MB matching its MD5
(errcodes as WeCom's: 40007 invalid media_id, 40009 invalid image size, 40005 file type)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from channels_app.providers.fakes_errors import wecom_err
from channels_app.providers.fakes_http import Recorded, Reply
from channels_app.providers.media_fakes import (
    MediaStore,
    UploadedFile,
    check_wecom_upload,
    multipart_files,
)
from channels_app.providers.wecom_robot.fake import FakeWeComRobot

MAX_INLINE_IMAGE = 2 * 1024 * 1024


class FakeWeComRobotWithMedia(FakeWeComRobot):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.store = MediaStore()
        self.images: list[bytes] = []

    def __call__(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/cgi-bin/webhook/upload_media":
            if request.query.get("key") != [self.key]:
                return wecom_err(93000, "invalid webhook url")
            if request.query.get("type") != ["file"]:
                return wecom_err(40004, "invalid media type")
            upload = check_wecom_upload("file", multipart_files(request))
            if isinstance(upload, Reply):
                return upload
            media_id = self.store.add(upload, "3robot")
            return Reply(body={"errcode": 0, "errmsg": "ok", "type": "file",
                               "media_id": media_id, "created_at": "1795777205"})  # fmt: skip
        if request.method == "POST" and request.path == "/cgi-bin/webhook/send":
            body = request.json if request.body else None
            if isinstance(body, dict) and body.get("msgtype") in ("image", "file"):
                if request.query.get("key") != [self.key]:
                    return wecom_err(93000, "invalid webhook url")
                return self._media_message(body)
        return super().__call__(request)

    def _media_message(self, body: dict[str, Any]) -> Reply:
        if body["msgtype"] == "file":
            if (body.get("file") or {}).get("media_id") not in self.store.media:
                return wecom_err(40007, "invalid media_id")
        else:
            image = body.get("image") or {}
            try:
                raw = base64.b64decode(str(image.get("base64")), validate=True)
            except (binascii.Error, ValueError):
                return wecom_err(40009, "invalid image size")
            if hashlib.md5(raw, usedforsecurity=False).hexdigest() != image.get("md5"):
                return wecom_err(301019, "md5 not match")
            sniffed = UploadedFile("image", "image", "", raw).sniffed_type
            if sniffed not in ("image/jpeg", "image/png") or len(raw) > MAX_INLINE_IMAGE:
                return wecom_err(40009, "invalid image size")
            self.images.append(raw)
        with self._lock:
            self.accepted.append(body)
        return Reply(body={"errcode": 0, "errmsg": "ok"})
