"""WeCom's temporary media upload (/cgi-bin/media/upload?access_token=&type=, multipart field
`media`; image: JPG/PNG ≤ 10 MB, file ≤ 20 MB, every file > 5 bytes; errcodes 40004 invalid
media type, 40005 invalid file type, 40006 invalid file size) and image / file messages
that must name an uploaded media_id (40007 otherwise), added to the app-message fake."""

from __future__ import annotations

from typing import Any

from channels_app.providers.fakes_errors import wecom_err
from channels_app.providers.fakes_http import Recorded, Reply
from channels_app.providers.media_fakes import (
    WECOM_LIMITS,
    MediaStore,
    check_wecom_upload,
    multipart_files,
)
from channels_app.providers.wecom_app.fake import FakeWeCom


class FakeWeComWithMedia(FakeWeCom):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.store = MediaStore()

    def __call__(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/cgi-bin/media/upload":
            with self._lock:
                token = (request.query.get("access_token") or [""])[0]
                if token not in self.tokens:
                    return wecom_err(40014, "invalid access_token")
            kind = (request.query.get("type") or [""])[0]
            upload = check_wecom_upload(kind, multipart_files(request))
            if isinstance(upload, Reply):
                return upload
            media_id = self.store.add(upload, f"3{kind}")
            return Reply(
                body={"errcode": 0, "errmsg": "", "type": kind, "media_id": media_id,
                      "created_at": "1795777205"}
            )  # fmt: skip
        if request.method == "POST" and request.path == "/cgi-bin/message/send":
            body = _json(request)
            if body and body.get("msgtype") in WECOM_LIMITS:
                return self._authed(request) or self._send_media(body)
        return super().__call__(request)

    def _send_media(self, body: dict[str, Any]) -> Reply:
        msgtype = body["msgtype"]
        media_id = (body.get(msgtype) or {}).get("media_id")
        if media_id not in self.store.media:
            return wecom_err(40007, "invalid media_id")
        if body.get("agentid") != self.agentid:
            return wecom_err(40056, "invalid agentid")
        with self._lock:
            self.accepted.append(body)
        return Reply(body={"errcode": 0, "errmsg": "ok", "invaliduser": "",
                           "unlicenseduser": "", "msgid": f"msg-{len(self.accepted)}"})  # fmt: skip


def _json(request: Recorded) -> dict[str, Any] | None:
    try:
        body = request.json
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
