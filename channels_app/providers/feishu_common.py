"""Shared by the Feishu / Lark providers (custom group bot, app bot): the template content
they both take (text, post, interactive; images only where a provider can send them)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from channels_app.providers.media import MediaLimits, validate_media


def validate_feishu_content(
    content: dict[str, Any], msg_types: tuple[str, ...], image_limits: MediaLimits | None = None
) -> None:
    msg_type = content.get("msg_type", "text")
    errors: dict[str, str] = {}
    if msg_type not in msg_types:
        errors["content.msg_type"] = f"must be one of {', '.join(msg_types)}, not {msg_type!r}"
    elif msg_type == "image" and image_limits is not None:
        errors.update(validate_media(content, image_limits))
    elif msg_type == "text" and not content.get("text"):
        errors["content.text"] = "required for msg_type text"
    elif msg_type == "post" and "post" in content:
        if not isinstance(content["post"], dict) or not content["post"]:
            errors["content.post"] = 'an object like {"zh_cn": {"title": ..., "content": [...]}}'
    elif msg_type == "post":
        for name in ("title", "text"):
            if not content.get(name):
                errors[f"content.{name}"] = "required for msg_type post (or give content.post)"
    elif msg_type == "interactive" and (
        not isinstance(content.get("card"), dict) or not content["card"]
    ):
        errors["content.card"] = "a card object is required for msg_type interactive"
    if errors:
        raise serializers.ValidationError(errors)
