"""Template SMS (Tencent, Aliyun, Yunpian): the template's `params` names which variables
fill the provider-approved template, in order; the text itself is the provider's."""

from __future__ import annotations

from typing import Any

from channels_app.providers.base import DeliveryError, OutboundMessage


def template_params(message: OutboundMessage) -> list[tuple[str, Any]] | None:
    """(name, value) for each name in content["params"], in order (a name may repeat: some
    templates are positional); None when the template names none. A named variable
    without a value fails permanently."""
    names = message.content.get("params")
    if names is None:
        return None
    missing = [name for name in names if message.variables.get(name) is None]
    if missing:
        raise DeliveryError(
            f"variable {missing[0]!r} of the template parameters is missing",
            permanent=True,
            code="missing_variable",
        )
    return [(name, message.variables[name]) for name in names]


def all_variables(message: OutboundMessage) -> dict[str, Any]:
    return {name: value for name, value in message.variables.items() if value is not None}
