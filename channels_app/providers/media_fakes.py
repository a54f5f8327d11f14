"""What the chat providers' local fakes share for media: reading a multipart upload as the
providers do, and a store that enforces an upload contract (field name, size and type
limits), hands out media ids and remembers what was uploaded."""

from __future__ import annotations

import email.policy
import threading
import uuid
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage

from channels_app.providers.fakes_errors import wecom_err
from channels_app.providers.fakes_http import Recorded, Reply

# The first bytes of the types the providers check by content, not by name.
MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"%PDF": "application/pdf",
}


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content_type: str
    content: bytes

    @property
    def sniffed_type(self) -> str:
        for magic, mimetype in MAGIC.items():
            if self.content.startswith(magic):
                return mimetype
        return "application/octet-stream"


def _multipart_parts(request: Recorded) -> list[EmailMessage]:
    """The parts of a multipart/form-data body (none when it is not one)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return []
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = message_from_bytes(head + request.body, policy=email.policy.HTTP)
    return list(message.iter_parts())


def _field_name(part: EmailMessage) -> str:
    return str(part.get_param("name", header="content-disposition") or "")


def _payload(part: EmailMessage) -> bytes:
    return part.get_payload(decode=True) or b""


def multipart_files(request: Recorded) -> list[UploadedFile]:
    """The file parts of a multipart/form-data body (empty when it is not one)."""
    return [
        UploadedFile(_field_name(part), filename, part.get_content_type(), _payload(part))
        for part in _multipart_parts(request)
        if (filename := part.get_filename()) is not None
    ]


def multipart_fields(request: Recorded) -> dict[str, str]:
    """The plain (non-file) fields of a multipart/form-data body."""
    return {
        _field_name(part): _payload(part).decode()
        for part in _multipart_parts(request)
        if part.get_filename() is None
    }


class MediaStore:
    """Uploaded media by id; `uploads` counts how often the provider was asked to store one."""

    def __init__(self) -> None:
        self.media: dict[str, UploadedFile] = {}
        self.uploads: list[UploadedFile] = []
        self._lock = threading.Lock()

    def add(self, upload: UploadedFile, prefix: str = "media") -> str:
        media_id = f"{prefix}_{uuid.uuid4().hex}"
        with self._lock:
            self.media[media_id] = upload
            self.uploads.append(upload)
        return media_id


# WeCom's upload contract, shared by its app and robot fakes: image JPG/PNG ≤ 10 MB, file
# ≤ 20 MB, every file > 5 bytes; errcodes 40004 / 40005 / 40006 / 41005.
MB = 1024 * 1024
WECOM_LIMITS = {"image": (10 * MB, {"image/jpeg", "image/png"}), "file": (20 * MB, None)}


def check_wecom_upload(kind: str, files: list[UploadedFile]) -> Reply | UploadedFile:
    """WeCom's checks of one upload (shared with the robot fake)."""
    if kind not in WECOM_LIMITS:
        return wecom_err(40004, "invalid media type")
    media = [f for f in files if f.field == "media"]
    if len(media) != 1:
        return wecom_err(41005, "media data missing")
    upload = media[0]
    max_bytes, types = WECOM_LIMITS[kind]
    if types is not None and upload.sniffed_type not in types:
        return wecom_err(40005, "invalid file type")
    if not 5 < len(upload.content) <= max_bytes:
        return wecom_err(40006, "invalid file size")
    return upload
