"""Shared by the WeCom adapters (app messages, group robots): content checks, message bodies
and errcode classification; plus `batch_by_content`, used by every batch-by-user API.

WeCom answers errors with HTTP 200 and `{"errcode": N, "errmsg": "..., hint: [...], from ip:
..., more info at ..."}`; the hint suffix is cut from reasons (it names our egress IP).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from rest_framework import serializers

from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.media import MB, MediaLimits
from channels_app.providers.token_api import AccessTokenApi, json_object

# 45009 API frequency; 45033 too many concurrent calls; 45035 robot minute quota.
RATE_LIMITED = frozenset({45009, 45033, 45035})
PERMANENT = frozenset(
    {
        40003,  # invalid userid
        40008,  # invalid message type
        40013,  # invalid corpid
        40056,  # invalid agentid
        40058,  # invalid parameter / json
        41001,  # access_token missing
        44004,  # empty content
        45002,  # content too long
        48002,  # API forbidden for this app
        60020,  # caller IP not trusted
        81013,  # user, party and tag all invalid
        82001,  # receivers outside the app's visible range
        93000,  # invalid robot webhook key
        93004,  # robot disabled
        93008,  # robot not in the group
    }
)
# Per-type required fields of the template content (flat: {"msgtype": "text", "content": ...}).
REQUIRED = {
    "text": ("content",),
    "markdown": ("content",),
    "textcard": ("title", "description", "url"),
    "news": ("articles",),
}
MAX_ARTICLES = 8
# Media messages (image / file): WeCom's documented upload limits; temporary media live 3
# days, so an upload is reused for 2.
MEDIA_LIMITS = {
    "image": MediaLimits(10 * MB, ("image/jpeg", "image/png")),
    "file": MediaLimits(20 * MB),
}
MEDIA_TTL_SECONDS = 2 * 24 * 3600


def wecom_error(code: int, errmsg: str, *, token_fetch: bool = False) -> DeliveryError:
    reason = f"wecom: {errmsg.split(', hint:')[0][:200]}"
    if code in RATE_LIMITED:
        return DeliveryError(reason, rate_limited=True, code=str(code))
    # From gettoken 40001 means a wrong corpsecret; from a send call it is a stale token.
    permanent = code in PERMANENT or (token_fetch and code in AccessTokenApi.token_errors)
    return DeliveryError(reason, permanent=permanent, code=str(code))


def json_body(response: requests.Response) -> dict[str, Any]:
    return json_object(response, "wecom")


def as_list(value: Any) -> list[str]:
    """A list, or a rendered "a,b" / "a|b" string (variables arrive as strings)."""
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    if isinstance(value, str):
        return [item.strip() for item in value.replace("|", ",").split(",") if item.strip()]
    return []


def validate_wecom_content(
    content: dict[str, Any], msgtypes: tuple[str, ...], *, article_url_required: bool
) -> None:
    msgtype = content.get("msgtype", "text")
    if msgtype not in msgtypes:
        raise serializers.ValidationError(
            {"content.msgtype": f"must be one of {', '.join(msgtypes)}, not {msgtype!r}"}
        )
    errors: dict[str, str] = {}
    for name in REQUIRED[msgtype]:
        if not content.get(name):
            errors[f"content.{name}"] = f"required for msgtype {msgtype}"
    articles = content.get("articles")
    if msgtype == "news" and "content.articles" not in errors:
        if not isinstance(articles, list) or not 1 <= len(articles) <= MAX_ARTICLES:
            errors["content.articles"] = f"a list of 1-{MAX_ARTICLES} articles"
        else:
            for index, article in enumerate(articles):
                if not isinstance(article, dict) or not article.get("title"):
                    errors[f"content.articles.{index}.title"] = "required"
                elif article_url_required and not article.get("url"):
                    errors[f"content.articles.{index}.url"] = "required"
                elif not (article.get("url") or article.get("pagepath")):
                    errors[f"content.articles.{index}.url"] = "a url or a mini program pagepath"
    if errors:
        raise serializers.ValidationError(errors)


def message_body(content: dict[str, Any]) -> dict[str, Any]:
    """`{"msgtype": t, t: {...}}` from flat template content; robot extras are added by the caller."""
    msgtype = content.get("msgtype", "text")
    if msgtype in ("text", "markdown"):
        inner: dict[str, Any] = {"content": str(content["content"])}
    elif msgtype == "textcard":
        inner = {key: content[key] for key in ("title", "description", "url")}
        if content.get("btntxt"):
            inner["btntxt"] = content["btntxt"]
    else:
        keys = ("title", "description", "url", "picurl", "appid", "pagepath")
        inner = {
            "articles": [
                {key: article[key] for key in keys if article.get(key)}
                for article in content["articles"]
            ]
        }
    return {"msgtype": msgtype, msgtype: inner}


def batch_by_content(
    messages: list[OutboundMessage], body: Callable[[OutboundMessage], dict[str, Any]], limit: int
) -> list[list[int]]:
    """Indexes of `messages` grouped so each group shares one body and has at most `limit`
    distinct receivers: one provider call per group. A receiver appearing twice with the same
    body goes to a later group, since the provider would deliver it only once."""
    groups: list[list[int]] = []
    open_groups: dict[str, list[tuple[list[int], set[str]]]] = {}
    for index, message in enumerate(messages):
        key = json.dumps(body(message), sort_keys=True, ensure_ascii=False)
        for group, receivers in open_groups.setdefault(key, []):
            if message.receiver not in receivers and len(group) < limit:
                group.append(index)
                receivers.add(message.receiver)
                break
        else:
            group = [index]
            open_groups[key].append((group, {message.receiver}))
            groups.append(group)
    return groups
