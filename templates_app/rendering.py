"""`{$var}` placeholders (austin's syntax), filled in every string of a content JSON.

Values inserted into HTML (a content key named `html` or ending in `_html`, e.g. an email's
`html`) are HTML-escaped, so a caller's `<script>` arrives as text. A template author who
means to insert markup writes `{$var|raw}`: the only, explicit, opt-out per placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.utils.html import escape

PLACEHOLDER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_.\-]*)(\|raw)?\}")
RAW = "|raw"


def is_html_key(key: str) -> bool:
    key = key.lower()
    return key == "html" or key.endswith("_html")


def placeholders(content: Any) -> set[str]:
    """Every variable name the content refers to."""
    found: set[str] = set()

    def collect(text: str, key: str) -> str:
        found.update(match.group(1) for match in PLACEHOLDER.finditer(text))
        return text

    _walk_strings(content, collect)
    return found


def missing_variables(required: set[str], variables: Mapping[str, Any]) -> list[str]:
    return sorted(name for name in required if name not in variables)


def render(content: Any, variables: Mapping[str, Any]) -> Any:
    """A copy of `content` with every placeholder replaced; callers check for missing ones first."""

    def fill(text: str, key: str) -> str:
        html = is_html_key(key)

        def substitute(match: re.Match[str]) -> str:
            value = variables.get(match.group(1))
            text = "" if value is None else str(value)
            return escape(text) if html and match.group(2) != RAW else text

        return PLACEHOLDER.sub(substitute, text)

    return _walk_strings(content, fill)


def _walk_strings(node: Any, transform: Callable[[str, str], str], key: str = "") -> Any:
    """Apply transform(text, key) to every string holding a placeholder; `key` is the
    nearest enclosing dict key (a list inherits its parent's)."""
    if isinstance(node, str):
        return transform(node, key) if "{$" in node else node
    if isinstance(node, dict):
        return {k: _walk_strings(value, transform, str(k)) for k, value in node.items()}
    if isinstance(node, list):
        return [_walk_strings(item, transform, key) for item in node]
    return node
