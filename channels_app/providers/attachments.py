"""Email attachments given by URL in template content, fetched under the egress policy.

Template content may carry `"attachments": [{"url": "https://...", "filename": "a.pdf"}]`.
Every hop goes through the shared pinned session (channels_app/providers/http.py): http and
https only, the host resolved once and checked by channels_app/providers/egress.py, and the
connection made to the exact address that was checked (no DNS rebinding). Redirects are
followed here by hand, a few hops at most, each target checked again by the same session.
"""

from __future__ import annotations

import mimetypes
import re
import time
from dataclasses import dataclass
from posixpath import basename
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
from django.conf import settings

from channels_app.providers.base import DeliveryError
from channels_app.providers.egress import (
    EgressDenied,
    EgressUnresolved,
    egress_delivery_error,
    egress_url_problem,
)
from channels_app.providers.http import pinned_session

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


class _Refused(Exception):
    """Why one attachment cannot be fetched (kept free of the URL: URLs carry tokens)."""


def max_attachment_bytes() -> int:
    return int(getattr(settings, "TIDINGS_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def validate_attachments(content: dict[str, Any]) -> dict[str, str]:
    """Shape errors for content.attachments, keyed by field path (empty when fine)."""
    items = content.get("attachments")
    if items in (None, []):
        return {}
    if not isinstance(items, list):
        return {"content.attachments": "must be a list of {url, filename} objects"}
    if len(items) > MAX_ATTACHMENTS:
        return {"content.attachments": f"at most {MAX_ATTACHMENTS} attachments"}
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        field = f"content.attachments[{index}]"
        if not isinstance(item, dict):
            errors[field] = "must be an object with url and optional filename"
            continue
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            errors[f"{field}.url"] = "an attachment needs a url"
        elif "{$" not in url:
            # A URL built from variables is checked when it is fetched.
            parts = urlsplit(url.strip())
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                errors[f"{field}.url"] = "must be an http or https URL"
            elif problem := egress_url_problem(url):
                errors[f"{field}.url"] = problem
        for key in ("filename", "content_type"):
            if key in item and not isinstance(item[key], str):
                errors[f"{field}.{key}"] = "must be a string"
        content_type = item.get("content_type")
        if isinstance(content_type, str) and content_type and "/" not in content_type:
            errors[f"{field}.content_type"] = "must be a MIME type like application/pdf"
    return errors


def _download(url: str, *, max_bytes: int, timeout: float) -> tuple[bytes, str, str]:
    """(body, content type, final URL). Raises _Refused, EgressDenied, EgressUnresolved."""
    deadline = time.monotonic() + timeout * 3
    for _hop in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise EgressDenied("refused: only http and https URLs")
        try:
            response = pinned_session().get(
                url,
                # Ask for identity so the size cap counts what the server sends.
                headers={"Accept-Encoding": "identity"},
                allow_redirects=False,
                stream=True,
                timeout=timeout,
            )
        except requests.RequestException as exc:
            raise _Refused(f"fetch failed: {type(exc).__name__}") from None
        with response:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise _Refused(f"HTTP {response.status_code} without Location")
                url = urljoin(url, location)  # checked by the session on the next hop
                continue
            if response.status_code != 200:
                raise _Refused(f"fetch failed: HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _Refused(f"larger than {max_bytes} bytes")
            body = bytearray()
            try:
                for chunk in response.raw.stream(_CHUNK, decode_content=True):
                    body += chunk
                    if len(body) > max_bytes:
                        raise _Refused(f"larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise _Refused("fetch timed out")
            except (requests.RequestException, OSError) as exc:
                raise _Refused(f"fetch failed: {type(exc).__name__}") from None
            return bytes(body), response.headers.get("Content-Type", ""), url
    raise _Refused(f"more than {MAX_REDIRECTS} redirects")


def fetch_attachment(
    url: str,
    *,
    filename: str = "",
    content_type: str = "",
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> Attachment:
    """Fetch one attachment; any refusal or failure is a permanent DeliveryError (an
    address the egress policy refuses: code `egress_denied`)."""
    label = filename or _filename_from_url(url) or "attachment"
    try:
        body, served_type, final_url = _download(
            url.strip(),
            max_bytes=max_bytes if max_bytes is not None else max_attachment_bytes(),
            timeout=timeout or settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS,
        )
    except _Refused as exc:
        raise DeliveryError(
            f"attachment {label!r}: {exc}", permanent=True, code="attachment"
        ) from None
    except EgressUnresolved as exc:
        raise DeliveryError(
            f"attachment {label!r}: {exc}", permanent=True, code="attachment"
        ) from None
    except EgressDenied as exc:
        raise egress_delivery_error(exc, f"attachment {label!r}") from None
    name = _clean_filename(filename or _filename_from_url(final_url) or "attachment")
    return Attachment(
        filename=name, content=body, mimetype=_mimetype(content_type, served_type, name)
    )


def attach_from_content(
    email: Any,
    content: dict[str, Any],
    config: dict[str, Any],
    cache: dict[str, Attachment | DeliveryError] | None = None,
) -> None:
    """Fetch content["attachments"] and attach them to a Django EmailMessage.

    Pass one `cache` dict per batch: a file shared by every receiver is fetched once, and a
    refused one fails every message that uses it without being fetched again.
    """
    for item in content.get("attachments") or []:
        url = str(item.get("url") or "")
        key = "\n".join((url, str(item.get("filename") or ""), str(item.get("content_type") or "")))
        cached = cache.get(key) if cache is not None else None
        if cached is None:
            try:
                cached = fetch_attachment(
                    url,
                    filename=str(item.get("filename") or ""),
                    content_type=str(item.get("content_type") or ""),
                )
            except DeliveryError as error:
                cached = error
            if cache is not None:
                cache[key] = cached
        if isinstance(cached, DeliveryError):
            raise cached
        email.attach(cached.filename, cached.content, cached.mimetype)


def _filename_from_url(url: str) -> str:
    try:
        return basename(unquote(urlsplit(url).path))
    except ValueError:
        return ""


def _clean_filename(name: str) -> str:
    # No path parts or line breaks in a MIME filename parameter.
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", name).strip(" .")
    return name[:200] or "attachment"


def _mimetype(declared: str, served: str, filename: str) -> str:
    for candidate in (declared, served, mimetypes.guess_type(filename)[0] or ""):
        # Django's attach() splits on "/" and would keep any "; charset=..." in the subtype.
        value = candidate.split(";", 1)[0].strip().lower()
        if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", value):
            return value
    return "application/octet-stream"
