"""Checks of a template's content that need no channel account: the placeholders are well
formed and the channel's required parts are there (an email has a subject). Each problem
names the field it is in ("content.text"), as the API's 400 does."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from channels_app.models import ChannelAccount
from channels_app.providers.registry import UnknownProvider, get_adapter_class
from templates_app.rendering import PLACEHOLDER

# Parts a channel cannot send without, whichever provider ends up sending it.
REQUIRED_PARTS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "email": [
        (("subject",), "an email needs a subject"),
        (("text", "html"), "an email needs a text or an html body"),
    ],
}


def unclosed_placeholders(content: Any, path: str = "content") -> dict[str, list[str]]:
    """{field: [problem]} for every "{$" that does not start a complete `{$name}`."""
    found: dict[str, list[str]] = {}
    if isinstance(content, str):
        start = content.find("{$")
        while start != -1:
            if not PLACEHOLDER.match(content, start):
                fragment = content[start : start + 24]
                found.setdefault(path, []).append(
                    f"unclosed or malformed placeholder {fragment!r}: write {{$name}}"
                )
            start = content.find("{$", start + 2)
    elif isinstance(content, dict):
        for key, value in content.items():
            found.update(unclosed_placeholders(value, f"{path}.{key}"))
    elif isinstance(content, list):
        for index, value in enumerate(content):
            found.update(unclosed_placeholders(value, f"{path}[{index}]"))
    return found


def missing_parts(channel: str, content: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for names, problem in REQUIRED_PARTS.get(channel, []):
        if not any(str(content.get(name) or "").strip() for name in names):
            found[f"content.{names[0]}"] = [problem]
    return found


def content_problems(channel: str, content: Any) -> dict[str, list[str]]:
    """Every problem of `content` for `channel` that no account is needed to see."""
    if not isinstance(content, dict) or not content:
        return {"content": ["must be a non-empty JSON object"]}
    return {**missing_parts(channel, content), **unclosed_placeholders(content)}


def routed_providers(app: Any, channel: str, account: Any) -> list[str]:
    """The providers that may send a template: its pinned account's, or (routed) those of
    every enabled account of the App for the channel."""
    if account is not None:
        return [account.provider]
    return sorted(
        set(
            ChannelAccount.objects.filter(app=app, channel=channel, enabled=True).values_list(
                "provider", flat=True
            )
        )
    )


def provider_problems(providers: list[str], channel: str, content: dict) -> dict[str, list[str]]:
    """What each provider the template may be routed to refuses in `content`; with more
    than one provider each problem says whose it is."""
    found: dict[str, list[str]] = {}
    for provider in providers:
        try:
            get_adapter_class(provider).validate_content(channel, content)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"content": exc.detail}
            for key, value in detail.items():
                for problem in value if isinstance(value, list) else [value]:
                    text = f"{provider}: {problem}" if len(providers) > 1 else str(problem)
                    found.setdefault(str(key), []).append(text)
        except UnknownProvider:
            found.setdefault("channel_account", []).append(f"unknown provider {provider!r}")
    return found
