"""Feishu's app side of bot images, added to the bot fake: tenant_access_token/internal
(app_id + app_secret; code 10014 "app secret invalid"), /open-apis/im/v1/images (Bearer
token, multipart image_type=message + image, ≤ 10 MB, an image type; 99991663 invalid token,
234010 file too large, 234011 not an image) and image messages naming an uploaded
image_key (230005 otherwise)."""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply
from channels_app.providers.feishu_bot.fake import PREFIX, FakeFeishuBot, feishu_err
from channels_app.providers.media_fakes import MediaStore, multipart_fields, multipart_files

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/bmp"}


class FakeFeishuWithImages(FakeFeishuBot):
    app_id = "cli_a1b2c3d4e5f60001"
    app_secret = "feishu-app-secret-0001"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.store = MediaStore()
        self.tenant_tokens: set[str] = set()

    def __call__(self, request: Recorded) -> Reply:
        if request.path == "/open-apis/auth/v3/tenant_access_token/internal":
            body = request.json if request.body else {}
            if (body.get("app_id"), body.get("app_secret")) != (self.app_id, self.app_secret):
                return feishu_err(10014, "app secret invalid")
            token = f"t-{uuid.uuid4().hex}"
            self.tenant_tokens.add(token)
            return Reply(body={"code": 0, "msg": "ok", "tenant_access_token": token,
                               "expire": 7200})  # fmt: skip
        if request.path == "/open-apis/im/v1/images":
            return self._upload(request)
        if request.method == "POST" and request.path.startswith(PREFIX) and request.body:
            body = request.json
            if isinstance(body, dict) and body.get("msg_type") == "image":
                return self._image_message(request.path[len(PREFIX) :], body)
        return super().__call__(request)

    def _upload(self, request: Recorded) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tenant_tokens:
            return Reply(status=400, body={"code": 99991663, "msg": "Invalid access token"})
        if multipart_fields(request).get("image_type") != "message":
            return feishu_err(234001, "Invalid request param: image_type")
        images = [f for f in multipart_files(request) if f.field == "image"]
        if len(images) != 1:
            return feishu_err(234001, "Invalid request param: image")
        image = images[0]
        if image.sniffed_type not in IMAGE_TYPES:
            return feishu_err(234011, "Can't recognise image format.")
        if len(image.content) > 10 * 1024 * 1024:
            return feishu_err(234010, "File's size is too large.")
        image_key = self.store.add(image, "img_v2")
        return Reply(body={"code": 0, "msg": "success", "data": {"image_key": image_key}})

    def _image_message(self, token: str, body: dict[str, Any]) -> Reply:
        if token != self.token:
            return feishu_err(19001, "param invalid: incoming webhook access token invalid")
        if self.secret:
            timestamp = str(body.get("timestamp") or "")
            if (
                not timestamp.isdigit()
                or abs(time.time() - int(timestamp)) > 3600
                or not hmac.compare_digest(str(body.get("sign")), self.expected_sign(timestamp))
            ):
                return feishu_err(19021, "sign match fail")
        if (body.get("content") or {}).get("image_key") not in self.store.media:
            return feishu_err(230005, "image_key not found")
        with self._lock:
            self.accepted.append(body)
        return Reply(body={"code": 0, "data": {}, "msg": "success"})
