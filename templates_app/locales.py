"""Per-locale template content: BCP 47 tags, their fallback chain and the variant chosen
for a receiver (`en-GB` -> `en` -> the template's default `content`)."""

from __future__ import annotations

import re
from typing import Any

from templates_app.checks import content_problems, provider_problems

# BCP 47 (RFC 5646) language tags as used in practice: language, optional script, region
# and variants (zh-CN, zh-Hant-TW, en, en-GB, es-419, de-CH-1996). Extensions and private
# use subtags are not accepted: no provider or profile carries them.
_TAG = re.compile(
    r"^(?P<language>[A-Za-z]{2,3}|[A-Za-z]{5,8})"
    r"(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)$"
)
MAX_TAG_LENGTH = 35
MAX_LOCALES = 100
TAG_HELP = "a BCP 47 language tag such as en, en-GB, zh-CN or zh-Hant-TW"


def locale_canonical(tag: Any) -> str | None:
    """The tag in its canonical case (zh-cn -> zh-CN, zh-hant-tw -> zh-Hant-TW), or None
    when it is not a BCP 47 tag."""
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH:
        return None
    match = _TAG.match(tag)
    if match is None:
        return None
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts.extend(v.lower() for v in match["variants"].split("-") if v)
    return "-".join(parts)


def locale_chain(tag: str) -> list[str]:
    """The tags to try for `tag`, most specific first: zh-Hant-TW -> zh-Hant, zh."""
    parts = tag.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def locale_choose(locales: dict[str, Any] | None, tag: str | None) -> str:
    """The key of `locales` to use for a receiver whose locale is `tag`; "" is the template's
    default content (no variants, no locale known, or nothing in the chain matches)."""
    if not locales or not tag:
        return ""
    canonical = locale_canonical(tag)
    if canonical is None:
        return ""
    for candidate in locale_chain(canonical):
        if candidate in locales:
            return candidate
    return ""


def locale_content(template: Any, key: str) -> dict[str, Any]:
    """The content of variant `key` ("" is the default content)."""
    if key and template.locales and key in template.locales:
        return template.locales[key]
    return template.content


def locales_problems(
    channel: str, locales: Any, providers: list[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(the locales with canonical keys, {field: [problem]}): each key must be a BCP 47
    tag and each value a content object the channel (and its providers) can send."""
    if locales is None:
        return {}, {}
    if not isinstance(locales, dict):
        return {}, {"locales": ['must be an object keyed by language tag, e.g. {"en": {...}}']}
    if len(locales) > MAX_LOCALES:
        return {}, {"locales": [f"at most {MAX_LOCALES} locales"]}
    cleaned: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for tag, content in locales.items():
        canonical = locale_canonical(tag)
        if canonical is None:
            problems[f"locales.{tag}"] = [f"not a language tag: give {TAG_HELP}"]
            continue
        if canonical in cleaned:
            problems[f"locales.{tag}"] = [f"the same locale as {canonical!r}"]
            continue
        found = content_problems(channel, content)
        if not found and providers:
            found = provider_problems(providers, channel, content)
        for field, messages in found.items():
            name = field.replace("content", f"locales.{canonical}", 1)
            if not name.startswith("locales."):
                name = f"locales.{canonical}.{field}"
            problems.setdefault(name, []).extend(messages)
        cleaned[canonical] = content
    return cleaned, problems
