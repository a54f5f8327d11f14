"""Click tracking: links of a `track_clicks` template's messages become /t/<token>.

Only links written in the template itself are tracked. A URL that arrives in a caller's
variable is left as it is: /t/<token> on our public host must never redirect to wherever
a caller (or whoever fills its variables) points. A template link may carry variables
after its host (`https://shop.example/o/{$order}`); one whose host comes from a variable
(`{$url}`, `https://{$host}/`) is not tracked."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from notify.rules.base import Rule, RuleOutcome
from templates_app.models import MessageTemplate
from tracking.models import Message, MessageState, TrackedLink
from tracking.services import messages_advance

# http(s) URLs, except an HTML image/script source: loading an image is not a click.
_URL = re.compile(r"""(?<!src=")(?<!src=')https?://[^\s"'<>()\[\]{}]+""")
# Content keys that hold media, not links a person follows.
_MEDIA_KEY = re.compile(r"pic|image|img|icon|media|attachment|avatar|thumb|file", re.I)
# Email headers are no links a person follows: List-Unsubscribe must stay the signed
# one-click URL (RFC 8058 POSTs to it; a /t/ redirect would break unsubscribing).
_UNTRACKED_KEYS = frozenset({"headers"})
# Trailing punctuation belongs to the sentence, not to the URL.
_TRAILING = ".,;:!?"
# A URL in template content, placeholders included.
_TEMPLATE_URL = re.compile(r"""https?://(?:[^\s"'<>()\[\]{}]|\{\$[A-Za-z0-9_.\-]+(?:\|raw)?\})+""")
_TEMPLATE_VAR = re.compile(r"\{\$[A-Za-z0-9_.\-]+(?:\|raw)?\}")
# What a variable may have become inside a rendered URL (the URL's own characters).
_VALUE = r"""[^\s"'<>()\[\]{}]*"""


def template_link_pattern(content: Any) -> re.Pattern[str] | None:
    """One regex matching the rendered form of every trackable link in a template's content
    (None: it has none). A link's scheme and host must be literal and end before any variable."""
    alternatives: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, value in node.items():
                walk(value, str(k))
        elif isinstance(node, list):
            for value in node:
                walk(value, key)
        elif isinstance(node, str) and not _MEDIA_KEY.search(key):
            for match in _TEMPLATE_URL.finditer(node):
                url = match.group(0).rstrip(_TRAILING)
                authority_end = re.search(r"[/?#]|$", url[url.index("://") + 3 :])
                assert authority_end is not None  # "$" always matches
                cut = url.index("://") + 3 + authority_end.start()
                if "{$" in url[:cut] or url[cut : cut + 2] == "{$":
                    continue  # the host would come from a variable
                parts = _TEMPLATE_VAR.split(url)
                alternatives.add(_VALUE.join(re.escape(part) for part in parts))

    walk(content)
    if not alternatives:
        return None
    return re.compile("|".join(f"(?:{a})" for a in sorted(alternatives)))


def click_base() -> str:
    return settings.TIDINGS_PUBLIC_URL.rstrip("/") + "/t/"


def content_rewrite(
    content: Any,
    make_token: Callable[[str], str],
    base: str,
    key: str = "",
    allowed: re.Pattern[str] | None = None,
) -> tuple[Any, bool]:
    """Return the content with every followable http(s) link replaced by base + token;
    with `allowed`, only the links it fully matches (the template's own)."""
    if isinstance(content, dict):
        changed = False
        out = {}
        for k, value in content.items():
            if k in _UNTRACKED_KEYS:
                out[k] = value
                continue
            out[k], sub = content_rewrite(value, make_token, base, str(k), allowed)
            changed |= sub
        return out, changed
    if isinstance(content, list):
        pairs = [content_rewrite(value, make_token, base, key, allowed) for value in content]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    if not isinstance(content, str) or _MEDIA_KEY.search(key) or "http" not in content:
        return content, False

    def replace(match: re.Match) -> str:
        url = match.group(0)
        tail = ""
        while url and url[-1] in _TRAILING:
            url, tail = url[:-1], url[-1] + tail
        if url.startswith(base):
            return match.group(0)  # already tracked (a retry of a rewritten message)
        if allowed is not None and not allowed.fullmatch(url):
            return match.group(0)  # not a link of the template: a caller's URL
        return base + make_token(url) + tail

    rewritten = _URL.sub(replace, content)
    return rewritten, rewritten != content


class ClickTrackingRule(Rule):
    """Rewrite the links of messages whose template tracks clicks; the rewritten content is
    saved, so a retry sends the same links and creates no new tokens."""

    name = "click_tracking"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        tracked = {
            pk: template_link_pattern(content)
            for pk, content in MessageTemplate.objects.filter(
                id__in={m.template_id for m in messages}, track_clicks=True
            ).values_list("id", "content")
        }
        tracked = {pk: pattern for pk, pattern in tracked.items() if pattern is not None}
        if not tracked:
            return messages
        base = click_base()
        links: list[TrackedLink] = []
        changed: list[Message] = []
        for message in messages:
            if message.template_id not in tracked:
                continue

            def make_token(url: str, message: Message = message) -> str:
                token = secrets.token_urlsafe(12)
                links.append(
                    TrackedLink(token=token, message_id=message.id, url=url, created_at=now)
                )
                return token

            content, was_changed = content_rewrite(
                message.content, make_token, base, allowed=tracked[message.template_id]
            )
            if was_changed:
                message.content = content
                changed.append(message)
        if changed:
            with transaction.atomic():
                TrackedLink.objects.bulk_create(links, batch_size=2000)
                Message.objects.bulk_update(changed, ["content"], batch_size=500)
        return messages


def link_click(token: str, at: datetime) -> str | None:
    """Record a click on /t/<token>; returns the target URL, None for an unknown token."""
    link = TrackedLink.objects.filter(token=token).only("id", "message_id", "url").first()
    if link is None:
        return None
    TrackedLink.objects.filter(pk=link.pk).update(clicks=F("clicks") + 1)
    TrackedLink.objects.filter(pk=link.pk, first_clicked_at__isnull=True).update(
        first_clicked_at=at
    )
    messages_advance([link.message_id], MessageState.CLICKED, at, link.url[:500])
    return link.url


def content_restore(message: Message) -> Any:
    """The message's content with its tracked links turned back into their targets."""
    links = dict(TrackedLink.objects.filter(message_id=message.pk).values_list("token", "url"))
    if not links:
        return message.content
    base = click_base()
    pattern = re.compile(re.escape(base) + r"([A-Za-z0-9_-]+)")

    def restore(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        if isinstance(value, str) and base in value:
            return pattern.sub(lambda m: links.get(m.group(1), m.group(0)), value)
        return value

    return restore(message.content)
