"""Email attachments given by URL in template content, fetched without opening an SSRF hole.

Template content may carry `"attachments": [{"url": "https://...", "filename": "a.pdf"}]`.
Every hop is checked: http/https only, the host resolved once and every address it resolves
to must be public (unless the account sets `allow_private_attachments`), and the connection
goes to the exact address that was checked, so a second DNS answer cannot point it at an
internal service (DNS rebinding). Redirects are followed by hand, each target checked again.

This does not use `http_request`: that one lets requests resolve the host itself, which is
what an SSRF check must not allow. urllib3 connection pools take the checked IP as the host
and the real name for TLS (SNI and certificate check) and the Host header.
"""

from __future__ import annotations

import ipaddress
import mimetypes
import re
import socket
import time
from dataclasses import dataclass
from posixpath import basename
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from rest_framework import serializers

from channels_app.providers.base import DeliveryError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024
# NAT64 embeds an IPv4 address in the last 32 bits; 64:ff9b::127.0.0.1 is loopback in disguise.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class AttachmentConfig(serializers.Serializer):
    """Mixed into every email provider's config serializer."""

    allow_private_attachments = serializers.BooleanField(
        default=False,
        help_text="Allow attachment URLs on loopback/private networks (trusted setups only).",
    )


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
        for key in ("filename", "content_type"):
            if key in item and not isinstance(item[key], str):
                errors[f"{field}.{key}"] = "must be a string"
        content_type = item.get("content_type")
        if isinstance(content_type, str) and content_type and "/" not in content_type:
            errors[f"{field}.content_type"] = "must be a MIME type like application/pdf"
    return errors


def is_public_address(address: str) -> bool:
    """False for anything that is not globally routable, including IPv4 hidden in IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        # Mapped and NAT64 addresses are judged by the IPv4 address they carry (their
        # prefixes count as "reserved", which would refuse every site behind DNS64).
        if ip.ipv4_mapped:
            candidates = [ip.ipv4_mapped]
        elif any(ip in network for network in _NAT64):
            candidates = [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
        if ip.sixtofour:
            candidates.append(ip.sixtofour)
        if ip.teredo:
            candidates.extend(ip.teredo)
    return not any(
        c.is_loopback
        or c.is_private
        or c.is_link_local
        or c.is_reserved
        or c.is_multicast
        or c.is_unspecified
        or not c.is_global
        for c in candidates
    )


def _resolve(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _Refused("cannot resolve host") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise _Refused("cannot resolve host")
    # All answers must be public: the OS could otherwise pick the private one.
    if not allow_private and not all(is_public_address(a) for a in addresses):
        raise _Refused("refused: host resolves to a private or reserved address")
    return addresses[0]


def _pool(scheme: str, ip: str, port: int, host: str, timeout: float) -> urllib3.HTTPConnectionPool:
    pool_timeout = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            ip,
            port,
            timeout=pool_timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=host,
            assert_hostname=host,
        )
    return urllib3.HTTPConnectionPool(ip, port, timeout=pool_timeout, retries=False, maxsize=1)


def _download(
    url: str, *, allow_private: bool, max_bytes: int, timeout: float
) -> tuple[bytes, str, str]:
    """(body, content type, final URL). Raises _Refused."""
    deadline = time.monotonic() + timeout * 3
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise _Refused("refused: only http and https URLs")
        host = parts.hostname
        if not host:
            raise _Refused("refused: URL has no host")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise _Refused("refused: invalid port") from None
        ip = _resolve(host, port, allow_private)
        headers = urllib3.make_headers(
            basic_auth=f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            if parts.username
            else None,
            user_agent="Tidings/1.0",
        )
        headers["Host"] = parts.netloc.rpartition("@")[2]
        # Ask for identity so the size cap counts what the server sends.
        headers["Accept-Encoding"] = "identity"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with _pool(scheme, ip, port, host, timeout) as pool:
            try:
                response = pool.urlopen(
                    "GET",
                    target,
                    headers=headers,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    assert_same_host=False,
                )
            except urllib3.exceptions.HTTPError as exc:
                raise _Refused(f"fetch failed: {type(exc).__name__}") from None
            try:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise _Refused(f"HTTP {response.status} without Location")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise _Refused(f"fetch failed: HTTP {response.status}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _Refused(f"larger than {max_bytes} bytes")
                body = bytearray()
                try:
                    for chunk in response.stream(_CHUNK):
                        body += chunk
                        if len(body) > max_bytes:
                            raise _Refused(f"larger than {max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise _Refused("fetch timed out")
                except urllib3.exceptions.HTTPError as exc:
                    raise _Refused(f"fetch failed: {type(exc).__name__}") from None
                return bytes(body), response.headers.get("Content-Type", ""), url
            finally:
                response.release_conn()
    raise _Refused(f"more than {MAX_REDIRECTS} redirects")


def fetch_attachment(
    url: str,
    *,
    filename: str = "",
    content_type: str = "",
    allow_private: bool = False,
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> Attachment:
    """Fetch one attachment; any refusal or failure is a permanent DeliveryError."""
    label = filename or _filename_from_url(url) or "attachment"
    try:
        body, served_type, final_url = _download(
            url.strip(),
            allow_private=allow_private,
            max_bytes=max_bytes if max_bytes is not None else max_attachment_bytes(),
            timeout=timeout or settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS,
        )
    except _Refused as exc:
        raise DeliveryError(
            f"attachment {label!r}: {exc}", permanent=True, code="attachment"
        ) from None
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
    allow_private = bool(config.get("allow_private_attachments", False))
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
                    allow_private=allow_private,
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
