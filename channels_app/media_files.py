"""Files uploaded to Tidings for media messages: the write (upload, delete) and the reads
(an App's file, the bytes for a worker). Content types are taken from the bytes where they
can be recognised, so a renamed file cannot pass a provider's type check on its name."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from channels_app.models import MediaFile
from notify.models import App

_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
    b"BM": "image/bmp",
    b"%PDF-": "application/pdf",
}


class MediaFileRefused(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MediaContent:
    filename: str
    content_type: str
    content: bytes


def _sniffed_type(head: bytes, filename: str, declared: str) -> str:
    for magic, mimetype in _MAGIC.items():
        if head.startswith(magic):
            return mimetype
    if head[4:12] in (b"ftypmp42", b"ftypisom"):
        return "video/mp4"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(filename)[0] or declared or "application/octet-stream"


def _clean_filename(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", name).strip(" .")
    return name[:200]


def media_file_create(app: App, upload: UploadedFile, filename: str = "") -> MediaFile:
    """Store an upload for `app`; refused (MediaFileRefused) when empty, too big or nameless."""
    name = _clean_filename(filename or upload.name or "")
    if not name:
        raise MediaFileRefused("filename", "give the file a name (e.g. report.pdf)")
    limit = settings.TIDINGS_MEDIA_MAX_BYTES
    if not upload.size:
        raise MediaFileRefused("file", "the file is empty")
    if upload.size > limit:
        raise MediaFileRefused("file", f"{upload.size} bytes: files are at most {limit} bytes")
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    media = MediaFile(
        id=uuid.uuid4(),
        app=app,
        filename=name,
        content_type=_sniffed_type(head, name, upload.content_type or ""),
        size=upload.size,
        sha256=digest.hexdigest(),
    )
    with transaction.atomic():
        media.file.save(f"{media.id}{_extension(name)}", upload, save=False)
        media.save()
    return media


def _extension(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f".{suffix}" if re.fullmatch(r"[a-z0-9]{1,8}", suffix) else ""


def media_file_delete(media: MediaFile) -> None:
    storage, path = media.file.storage, str(media.file.name)
    media.delete()
    transaction.on_commit(lambda: storage.delete(path))


def media_file_of_app(app_id: int, file_id: str) -> MediaFile | None:
    try:
        key = uuid.UUID(str(file_id))
    except ValueError:
        return None
    return MediaFile.objects.filter(app_id=app_id, pk=key).first()


def media_file_describe(file_id: str) -> MediaFile | None:
    """Size and type of a file for a provider's limits (no ownership check: the template API
    checks that the file is the App's)."""
    try:
        key = uuid.UUID(str(file_id))
    except ValueError:
        return None
    return MediaFile.objects.filter(pk=key).first()


def media_file_read(file_id: str) -> MediaContent | None:
    media = media_file_describe(file_id)
    if media is None:
        return None
    with media.file.open("rb") as handle:
        return MediaContent(media.filename, media.content_type, handle.read())
