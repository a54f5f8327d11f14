"""sendPhoto / sendDocument added to the Telegram fake, as the Bot API documents them: the
file either uploaded as multipart/form-data (photo ≤ 10 MB and an image, document ≤ 50 MB)
or named by a file_id an earlier upload returned ("Bad Request: wrong file identifier"
otherwise); captions ≤ 1024 characters; the answer carries the photo's sizes or the
document with their file_id."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply
from channels_app.providers.media_fakes import (
    MediaStore,
    UploadedFile,
    multipart_fields,
    multipart_files,
)
from channels_app.providers.telegram.fake import FakeTelegram, _error

LIMITS = {"photo": 10 * 1024 * 1024, "document": 50 * 1024 * 1024}
METHODS = {"sendPhoto": "photo", "sendDocument": "document"}


class FakeTelegramWithMedia(FakeTelegram):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.store = MediaStore()
        self.media_sent: list[dict[str, Any]] = []
        self._media_ids = itertools.count(1000)

    def __call__(self, request: Recorded) -> Reply:
        prefix, _, method = request.path.rpartition("/")
        if method in METHODS and prefix == f"/bot{self.token}":
            return self._send_media(METHODS[method], request)
        return super().__call__(request)

    def _send_media(self, kind: str, request: Recorded) -> Reply:
        uploads = multipart_files(request)
        params = multipart_fields(request) if uploads else self._params(request)
        chat, error = self._chat(params)
        if error:
            return error
        if len(str(params.get("caption") or "")) > 1024:
            return _error(400, "Bad Request: message caption is too long")
        upload = next((f for f in uploads if f.field == kind), None)
        if upload is not None:
            if len(upload.content) > LIMITS[kind]:
                return _error(400, "Bad Request: file is too big")
            if kind == "photo" and not upload.sniffed_type.startswith("image/"):
                return _error(400, "Bad Request: IMAGE_PROCESS_FAILED")
            file_id = self.store.add(upload, f"AgAC{kind}")
        else:
            file_id = str(params.get(kind) or "")
            if file_id not in self.store.media:
                return _error(400, "Bad Request: wrong file identifier/HTTP URL specified")
            upload = self.store.media[file_id]
        with self._lock:
            message_id = next(self._ids)
            self.media_sent.append({"chat": chat, kind: file_id, "message_id": message_id,
                                    "caption": params.get("caption"),
                                    "uploaded": upload if uploads else None})  # fmt: skip
        return Reply(
            body={"ok": True, "result": self._result(kind, chat, message_id, file_id, upload)}
        )

    def _result(self, kind: str, chat: str, message_id: int, file_id: str, upload: UploadedFile):
        described = {"file_id": file_id, "file_unique_id": uuid.uuid5(uuid.NAMESPACE_URL, file_id).hex[:16],
                     "file_size": len(upload.content)}  # fmt: skip
        media: Any = (
            [{**described, "width": 90, "height": 90}, {**described, "width": 800, "height": 600}]
            if kind == "photo"
            else {**described, "file_name": upload.filename, "mime_type": upload.content_type}
        )
        return {"message_id": message_id, "chat": {"id": int(chat), "type": "private"},
                "date": int(time.time()), kind: media}  # fmt: skip
