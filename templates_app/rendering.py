"""`{$var}` placeholders (austin's syntax), filled in every string of a content JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_.\-]*)\}")


def placeholders(content: Any) -> set[str]:
    """Every variable name the content refers to."""
    found: set[str] = set()
    _walk_strings(content, lambda text: found.update(PLACEHOLDER.findall(text)) or text)
    return found


def missing_variables(required: set[str], variables: Mapping[str, Any]) -> list[str]:
    return sorted(name for name in required if name not in variables)


def render(content: Any, variables: Mapping[str, Any]) -> Any:
    """A copy of `content` with every placeholder replaced; callers check for missing ones first."""

    def substitute(match: re.Match[str]) -> str:
        value = variables.get(match.group(1))
        return "" if value is None else str(value)

    return _walk_strings(content, lambda text: PLACEHOLDER.sub(substitute, text))


def _walk_strings(node: Any, transform) -> Any:
    if isinstance(node, str):
        return transform(node) if "{$" in node else node
    if isinstance(node, dict):
        return {key: _walk_strings(value, transform) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk_strings(item, transform) for item in node]
    return node
