"""Credential-like values of a channel account beyond its declared `secret_fields`: every
custom header value (webhook `headers`), credential query parameters and passwords in URLs.

The whole `config` is encrypted at rest (EncryptedJSONField); these helpers mask those
values wherever config or a URL is shown (admin, API), restore them when a masked form
comes back unchanged, and list them for the log redaction filter (config/logredact.py).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from channels_app.models import ChannelAccount
from channels_app.providers.registry import UnknownProvider, get_adapter_class

MASK = "********"
# Query parameters and header names that carry credentials.
CREDENTIAL_NAME = re.compile(
    r"(?i)(token|key|secret|signature|sig|password|passwd|pwd|auth|credential|session|code"
    r"|access|apikey)"
)
HEADER_KEYS = ("headers",)
_QUERY_VALUE = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&;#]+)=(?P<value>[^&;#]*)")
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:]*):(?P<pw>[^/@]*)@")


def url_mask(url: str) -> str:
    """The URL with its password and credential query values replaced by ********."""
    if not isinstance(url, str) or "://" not in url:
        return url
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)

    def query(match: re.Match[str]) -> str:
        if CREDENTIAL_NAME.search(match["name"]) and match["value"]:
            return f"{match['sep']}{match['name']}={MASK}"
        return match.group(0)

    return _QUERY_VALUE.sub(query, masked)


def url_unmask(submitted: Any, stored: Any) -> Any:
    """A URL that comes back exactly as it was shown means the stored one."""
    if isinstance(submitted, str) and isinstance(stored, str) and submitted == url_mask(stored):
        return stored
    return submitted


def _secret_fields(provider: str) -> set[str]:
    try:
        return set(get_adapter_class(provider).secret_fields) if provider else set()
    except UnknownProvider:
        return set()


def config_masked(provider: str, config: dict) -> dict:
    """Config for display: secret fields, every header value and URL credentials masked."""
    secret = _secret_fields(provider)
    out: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if key in secret and value:
            out[key] = MASK
        elif key in HEADER_KEYS and isinstance(value, dict):
            out[key] = {name: MASK if v else v for name, v in value.items()}
        elif isinstance(value, str):
            out[key] = url_mask(value)
        else:
            out[key] = value
    return out


def config_unmask(provider: str, submitted: dict, stored: dict) -> dict:
    """Put back the stored values wherever the submitted config still shows a mask."""
    secret = _secret_fields(provider)
    out = dict(submitted)
    for key, value in submitted.items():
        if value == MASK and (key in secret or key in stored):
            out[key] = stored.get(key, "")
        elif key in HEADER_KEYS and isinstance(value, dict):
            kept = stored.get(key)
            kept = kept if isinstance(kept, dict) else {}
            out[key] = {n: kept.get(n, "") if v == MASK else v for n, v in value.items()}
        else:
            out[key] = url_unmask(value, stored.get(key))
    return out


def _url_secrets(url: str) -> list[str]:
    found: list[str] = []
    userinfo = _USERINFO.match(url)
    if userinfo and userinfo["pw"]:
        found.append(userinfo["pw"])
    try:
        query = urlsplit(url).query
    except ValueError:
        query = ""
    found.extend(v for n, v in parse_qsl(query) if CREDENTIAL_NAME.search(n))
    return found


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [str(value)] if isinstance(value, str | int) and value != "" else []


def account_secret_values(account: ChannelAccount) -> list[str]:
    """Every credential value of an account, for the log redaction filter."""
    config = account.config or {}
    values: list[str] = []
    for key in _secret_fields(account.provider):
        for leaf in _leaves(config.get(key)):
            values.append(leaf)
            if "://" in leaf:  # an Apprise/Slack URL: its parts are secrets as well
                values.extend(p for p in re.split(r"[/:@?&=#]+", leaf.split("://", 1)[1]) if p)
    for key in HEADER_KEYS:
        values.extend(_leaves(config.get(key)))
    for leaf in [*_leaves(config), account.base_url or ""]:
        if "://" in leaf:
            values.extend(_url_secrets(leaf))
    return values
