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


def renderer(content: Any) -> Callable[[Mapping[str, Any]], Any]:
    """`render(content, ·)` compiled once for the many receivers of a send: the same
    result, with the content's strings split at their placeholders once, not per receiver."""
    compiled = _compile(content, "")
    if compiled is None:
        return lambda variables: content
    return compiled


def _compile(node: Any, key: str) -> Callable[[Mapping[str, Any]], Any] | None:
    """A function filling `node`'s placeholders, or None when it has none."""
    if isinstance(node, str):
        return _compile_text(node, key) if "{$" in node else None
    if isinstance(node, dict):
        parts = [(k, value, _compile(value, str(k))) for k, value in node.items()]
        if all(fill is None for _, _, fill in parts):
            return None
        return lambda variables: {
            k: value if fill is None else fill(variables) for k, value, fill in parts
        }
    if isinstance(node, list):
        items = [(item, _compile(item, key)) for item in node]
        if all(fill is None for _, fill in items):
            return None
        return lambda variables: [item if fill is None else fill(variables) for item, fill in items]
    return None


def _compile_text(text: str, key: str) -> Callable[[Mapping[str, Any]], str]:
    pieces = PLACEHOLDER.split(text)  # text, (name, "|raw" or None, text)...
    head, names, raws, tails = pieces[0], pieces[1::3], pieces[2::3], pieces[3::3]
    escaped = [is_html_key(key) and raw != RAW for raw in raws]
    slots = list(zip(names, escaped, tails, strict=True))

    def fill(variables: Mapping[str, Any]) -> str:
        out = [head]
        for name, escape_it, tail in slots:
            value = variables.get(name)
            value = "" if value is None else str(value)
            out.append(escape(value) if escape_it else value)
            out.append(tail)
        return "".join(out)

    return fill


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
