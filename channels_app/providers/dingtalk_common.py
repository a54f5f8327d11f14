"""Shared by the DingTalk adapters (work notices, custom robots): content checks and errcode
classification. DingTalk answers errors with HTTP 200 and `{"errcode": N, "errmsg": "..."}`.

Template content is flat and the same for both: `{"msgtype": "text", "content"}`,
`{"msgtype": "markdown", "title", "text"}`, `{"msgtype": "link", "title", "text",
"message_url", "pic_url"}`, `{"msgtype": "action_card", "title", "text", "single_title",
"single_url"}` or with `"buttons": [{"title", "url"}]` and `"btn_orientation"`.
"""

from __future__ import annotations

from typing import Any

import requests
from rest_framework import serializers

from channels_app.providers.base import DeliveryError
from channels_app.providers.media import MB, MediaLimits
from channels_app.providers.token_api import json_object

# 90002 the app's calls are temporarily banned; 90018 org QPS limit; 130101 and 410100 robot
# "send too fast" (20 a minute).
RATE_LIMITED = frozenset({90002, 90018, 130101, 410100})
PERMANENT = frozenset(
    {
        40035,  # missing or invalid parameter
        40089,  # invalid appkey / appsecret
        60011,  # app lacks the permission
        60020,  # caller IP not whitelisted
        300001,  # robot access_token does not exist
        310000,  # robot sign mismatch, stale timestamp, keyword or IP not allowed
    }
)
REQUIRED = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("title", "text", "message_url"),
    "action_card": ("title", "text"),
    "oa": ("message_url", "body"),
}
ALIASES = {"actionCard": "action_card"}
# /media/upload's documented limits (images JPG/GIF/PNG/BMP, office files, PDF, ZIP/RAR).
MEDIA_LIMITS = {
    "image": MediaLimits(20 * MB, ("image/jpeg", "image/gif", "image/png", "image/bmp")),
    "file": MediaLimits(
        20 * MB,
        (
            "application/pdf",
            "application/zip",
            "application/vnd.rar",
            "application/x-rar-compressed",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ),
}


def msgtype_of(content: dict[str, Any]) -> str:
    msgtype = content.get("msgtype", "text")
    return ALIASES.get(msgtype, msgtype)


def dingtalk_error(code: int, errmsg: str) -> DeliveryError:
    reason = f"dingtalk: {errmsg[:200]}"
    if code in RATE_LIMITED:
        return DeliveryError(reason, rate_limited=True, code=str(code))
    return DeliveryError(reason, permanent=code in PERMANENT, code=str(code))


def error_code(body: dict[str, Any]) -> int:
    """The errcode; for the TOP gateway's 88 wrapper, the real code in `sub_code`."""
    code = int(body.get("errcode") or 0)
    if code == 88 and str(body.get("sub_code", "")).lstrip("-").isdigit():
        return int(body["sub_code"])
    return code


def json_body(response: requests.Response) -> dict[str, Any]:
    return json_object(response, "dingtalk")


def validate_dingtalk_content(
    content: dict[str, Any], msgtypes: tuple[str, ...], *, link_pic_required: bool
) -> None:
    msgtype = msgtype_of(content)
    if msgtype not in msgtypes:
        raise serializers.ValidationError(
            {"content.msgtype": f"must be one of {', '.join(msgtypes)}, not {msgtype!r}"}
        )
    errors: dict[str, str] = {}
    for name in REQUIRED[msgtype]:
        if not content.get(name):
            errors[f"content.{name}"] = f"required for msgtype {msgtype}"
    if msgtype == "link" and link_pic_required and not content.get("pic_url"):
        errors["content.pic_url"] = "required for msgtype link"
    if msgtype == "action_card":
        buttons = content.get("buttons")
        if buttons:
            if not isinstance(buttons, list) or not all(
                isinstance(b, dict) and b.get("title") and b.get("url") for b in buttons
            ):
                errors["content.buttons"] = 'a list of {"title": ..., "url": ...}'
        elif not (content.get("single_title") and content.get("single_url")):
            errors["content.single_url"] = "give single_title + single_url, or buttons"
    if msgtype == "oa" and "body" in content and not isinstance(content["body"], dict):
        errors["content.body"] = 'an object like {"title": ..., "content": ...}'
    if errors:
        raise serializers.ValidationError(errors)
