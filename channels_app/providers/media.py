"""Images and files for the chat channels, shared by their adapters.

Template content names one media item under `media`: `{"url": "https://…/chart.png"}` (fetched
at send time through the egress guard, like email attachments), `{"file": "<id>"}` (a file
uploaded to Tidings with POST /api/v1/media) or `{"content_base64": "…", "filename": "a.pdf"}`
(a small file kept inline in the template), optionally with a `content_type`. Each provider declares its limits (size, types) per kind; they are checked
when the template is saved where the size is known (base64) and again on every fetch.

A provider that needs an upload first (WeCom, DingTalk, Feishu) uploads each file once per
account: the id it answers is cached by the source (URL or inline content) and by the
content's SHA-256, for less than the provider keeps it, so a campaign to 100,000 users
uploads its image once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache

from channels_app.media_files import media_file_describe, media_file_read
from channels_app.providers.attachments import Attachment, fetch_attachment
from channels_app.providers.base import DeliveryError
from channels_app.providers.egress import egress_url_problem

MB = 1024 * 1024
SOURCES = ("url", "file", "content_base64")


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int
    # Allowed MIME types; a trailing "/*" allows a family ("image/*"). Empty: any type.
    types: tuple[str, ...] = ()

    def allows(self, mimetype: str) -> bool:
        if not self.types:
            return True
        family = mimetype.split("/", 1)[0] + "/*"
        return mimetype in self.types or family in self.types

    def describe(self) -> str:
        kinds = ", ".join(self.types) if self.types else "any type"
        return f"{kinds}, at most {self.max_bytes // MB} MB"


def _mimetype(item: dict[str, Any], filename: str) -> str:
    declared = str(item.get("content_type") or "").split(";", 1)[0].strip().lower()
    return declared or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _filename(item: dict[str, Any]) -> str:
    name = str(item.get("filename") or "")
    if not name and isinstance(item.get("url"), str):
        name = urlsplit(item["url"]).path.rsplit("/", 1)[-1]
    return name


def validate_media(content: dict[str, Any], limits: MediaLimits) -> dict[str, str]:
    """Errors of content.media for a provider with these limits, keyed by field path."""
    item = content.get("media")
    field = "content.media"
    if not isinstance(item, dict):
        return {field: 'an object: {"url": …}, {"file": …} or {"content_base64": …, "filename": …}'}
    sources = [key for key in SOURCES if item.get(key) is not None]
    if len(sources) != 1:
        return {field: "give exactly one of url, file and content_base64"}
    if sources == ["file"]:
        return _stored_file_errors(str(item["file"]), limits)
    url, inline = item.get("url"), item.get("content_base64")
    errors: dict[str, str] = {}
    filename = _filename(item)
    if url is not None:
        if not isinstance(url, str) or not url.strip():
            errors[f"{field}.url"] = "must be an http or https URL"
        elif "{$" not in url:  # a URL built from variables is checked when fetched
            parts = urlsplit(url.strip())
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                errors[f"{field}.url"] = "must be an http or https URL"
            elif problem := egress_url_problem(url):
                errors[f"{field}.url"] = problem
    else:
        try:
            size = len(base64.b64decode(str(inline), validate=True))
        except (binascii.Error, ValueError):
            return {f"{field}.content_base64": "not valid base64"}
        if not filename:
            errors[f"{field}.filename"] = "required with content_base64"
        if size > limits.max_bytes:
            errors[f"{field}.content_base64"] = f"{size} bytes: the limit is {limits.describe()}"
        elif size == 0:
            errors[f"{field}.content_base64"] = "an empty file"
    known_type = item.get("content_type") or mimetypes.guess_type(filename)[0]
    if known_type and not limits.allows(_mimetype(item, filename)):
        errors[f"{field}.content_type"] = (
            f"{_mimetype(item, filename)}: allowed {limits.describe()}"
        )
    return errors


def _stored_file_errors(file_id: str, limits: MediaLimits) -> dict[str, str]:
    media = media_file_describe(file_id)
    if media is None:
        return {"content.media.file": "no such file: upload it with POST /api/v1/media"}
    if media.size > limits.max_bytes:
        return {"content.media.file": f"{media.size} bytes: the limit is {limits.describe()}"}
    if not limits.allows(media.content_type):
        return {"content.media.file": f"{media.content_type}: allowed {limits.describe()}"}
    return {}


def media_load(item: dict[str, Any], limits: MediaLimits) -> Attachment:
    """The bytes of content.media, fetched or decoded, within the limits (else a permanent
    DeliveryError with code `media`)."""
    filename = _filename(item)
    if item.get("file") is not None:
        stored = media_file_read(str(item["file"]))
        if stored is None:
            raise DeliveryError(
                "media: the uploaded file was deleted", permanent=True, code="media"
            )
        attachment = Attachment(stored.filename, stored.content, stored.content_type)
    elif item.get("content_base64") is not None:
        try:
            body = base64.b64decode(str(item["content_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise DeliveryError("media: not valid base64", permanent=True, code="media") from None
        attachment = Attachment(filename or "file", body, _mimetype(item, filename))
    else:
        try:
            attachment = fetch_attachment(
                str(item.get("url") or ""),
                filename=filename,
                content_type=str(item.get("content_type") or ""),
                max_bytes=limits.max_bytes,
            )
        except DeliveryError as error:
            if error.code != "attachment":
                raise  # e.g. egress_denied keeps its code
            raise DeliveryError(
                error.reason.replace("attachment", "media", 1),
                permanent=True,
                code="media",
            ) from None
    if len(attachment.content) > limits.max_bytes:
        raise DeliveryError(
            f"media {attachment.filename!r}: the limit is {limits.describe()}",
            permanent=True,
            code="media",
        )
    if not limits.allows(attachment.mimetype):
        raise DeliveryError(
            f"media {attachment.filename!r} is {attachment.mimetype}: allowed {limits.describe()}",
            permanent=True,
            code="media",
        )
    return attachment


def _source_key(scope: str, item: dict[str, Any]) -> str:
    source = item.get("content_base64") or item.get("url") or f"file:{item.get('file')}"
    digest = hashlib.sha256(f"{item.get('filename')}\n{source}".encode()).hexdigest()
    return f"tidings:media:{scope}:src:{digest}"


def _content_key(scope: str, attachment: Attachment) -> str:
    return f"tidings:media:{scope}:sha256:{hashlib.sha256(attachment.content).hexdigest()}"


def cached_media_id(scope: str, item: dict[str, Any]) -> str | None:
    """The id a provider gave this source before, without fetching it."""
    cached = cache.get(_source_key(scope, item))
    return str(cached) if cached else None


def remember_media_id(
    scope: str, item: dict[str, Any], attachment: Attachment, media_id: str, ttl_seconds: int
) -> None:
    cache.set(_content_key(scope, attachment), media_id, ttl_seconds)
    cache.set(_source_key(scope, item), media_id, ttl_seconds)


def uploaded_media_id(
    scope: str,
    item: dict[str, Any],
    limits: MediaLimits,
    upload: Callable[[Attachment], str],
    ttl_seconds: int,
) -> str:
    """The provider's id for content.media under `scope` (provider, account and kind),
    uploading it only when neither its source nor its content was uploaded before."""
    cached = cached_media_id(scope, item)
    if cached:
        return cached
    attachment = media_load(item, limits)
    media_id = cache.get(_content_key(scope, attachment)) or upload(attachment)
    remember_media_id(scope, item, attachment, str(media_id), ttl_seconds)
    return str(media_id)
