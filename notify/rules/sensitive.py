from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from notify.models import SensitiveMode
from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from tracking.models import Message, MessageState

MASK = "***"
# Not text a reader sees: attachment specs, transport headers.
_SKIPPED_KEYS = frozenset({"attachments", "headers"})


def scan(value: Any, pattern: re.Pattern[str], mask: bool, found: list[str]) -> Any:
    """Return `value` with matches masked (when `mask`), collecting every match in `found`."""
    if isinstance(value, str):
        hits = pattern.findall(value)
        if not hits:
            return value
        found.extend(hits)
        return pattern.sub(MASK, value) if mask else value
    if isinstance(value, dict):
        return {
            k: v if k in _SKIPPED_KEYS else scan(v, pattern, mask, found) for k, v in value.items()
        }
    if isinstance(value, list):
        return [scan(v, pattern, mask, found) for v in value]
    return value


class SensitiveWordsRule(Rule):
    """Words from the App's dictionary are masked or reject the message, per template."""

    name = "sensitive"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        passed, masked = [], []
        for message in messages:
            config = configs[message.app_id]
            template = config.template(message.template_id)
            mode = template.sensitive_mode if template else SensitiveMode.MASK
            if config.sensitive_pattern is None or mode == SensitiveMode.OFF:
                passed.append(message)
                continue
            found: list[str] = []
            content = scan(message.content, config.sensitive_pattern, mode == "mask", found)
            if not found:
                passed.append(message)
                continue
            words = ", ".join(sorted({w.lower() for w in found}))
            if mode == SensitiveMode.REJECT:
                detail = f"contains sensitive words: {words}"
                outcome.stopped.append((message, MessageState.SENSITIVE_REJECTED, detail))
                continue
            message.content = content
            masked.append(message)
            passed.append(message)
            detail = f"masked {len(found)} occurrence(s) of: {words}"
            outcome.noted.append((message, MessageState.SENSITIVE_MASKED, detail))
        if masked:
            # What the provider gets is what the message shows.
            Message.objects.bulk_update(masked, ["content"])
        return passed
