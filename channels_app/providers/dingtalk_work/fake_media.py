"""DingTalk's /media/upload (?access_token=&type=image|file, multipart field `media`; images
JPG/GIF/PNG/BMP and files of the documented office/PDF/archive types, 20 MB each; errcodes
40004 invalid media type, 40005 invalid file type, 40006 invalid file size) and work
notices of type image / file that must name an uploaded media_id (40007 otherwise), added
to the work-notice fake."""

from __future__ import annotations

from typing import Any

from channels_app.providers.dingtalk_work.fake import FakeDingTalkWork
from channels_app.providers.fakes_errors import ding_err
from channels_app.providers.fakes_http import Recorded, Reply
from channels_app.providers.media_fakes import MediaStore, multipart_files

MB = 1024 * 1024
IMAGE_TYPES = {"image/jpeg", "image/gif", "image/png", "image/bmp"}
FILE_EXTENSIONS = (".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".zip", ".pdf", ".rar")


class FakeDingTalkWorkWithMedia(FakeDingTalkWork):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.store = MediaStore()

    def __call__(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/media/upload":
            return self._upload(request)
        return super().__call__(request)

    def _send(self, body: dict[str, Any]) -> Reply:
        msg = body.get("msg")
        if not isinstance(msg, dict) or msg.get("msgtype") not in ("image", "file"):
            return super()._send(body)
        if body.get("agent_id") != self.agent_id:
            return ding_err(40035, "缺少参数 agent_id")
        if (msg.get(msg["msgtype"]) or {}).get("media_id") not in self.store.media:
            return ding_err(40007, "不合法的媒体文件id")
        task_id = next(self._ids)
        self.task_ids.add(task_id)
        self.accepted.append(body)
        return Reply(body={"errcode": 0, "errmsg": "ok", "task_id": task_id})

    def _upload(self, request: Recorded) -> Reply:
        token = (request.query.get("access_token") or [""])[0]
        if token not in self.tokens:
            return ding_err(40014, "不合法的access_token")
        kind = (request.query.get("type") or [""])[0]
        if kind not in ("image", "file"):
            return ding_err(40004, "不合法的媒体文件类型")
        media = [f for f in multipart_files(request) if f.field == "media"]
        if len(media) != 1:
            return ding_err(41005, "缺少多媒体文件数据")
        upload = media[0]
        if kind == "image" and upload.sniffed_type not in IMAGE_TYPES:
            return ding_err(40005, "不合法的文件类型")
        if kind == "file" and not upload.filename.lower().endswith(FILE_EXTENSIONS):
            return ding_err(40005, "不合法的文件类型")
        if not 0 < len(upload.content) <= 20 * MB:
            return ding_err(40006, "不合法的文件大小")
        media_id = self.store.add(upload, "@lADO")
        return Reply(body={"errcode": 0, "errmsg": "ok", "type": kind, "media_id": media_id,
                           "created_at": 1795777205000})  # fmt: skip
