from __future__ import annotations

import hashlib
import json
from datetime import datetime

from notify.rules import scripts
from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from tracking.models import Message, MessageState


def content_digest(message: Message) -> str:
    content = {k: v for k, v in (message.content or {}).items() if k != "headers"}
    raw = json.dumps([message.receiver, content], sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()


class ContentDedupRule(Rule):
    """The same rendered content to the same receiver from the same template is sent at
    most `dedup_max` times per sliding window (one EVAL per batch)."""

    name = "dedup"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        checked, entries, passed = [], [], []
        for message in messages:
            template = configs[message.app_id].template(message.template_id)
            if template is None or template.dedup_max == 0 or template.dedup_window_seconds == 0:
                passed.append(message)
                continue
            checked.append((message, template))
            entries.append(
                (
                    scripts.key(
                        "dedup", message.app_id, message.template_id, content_digest(message)
                    ),
                    str(message.id),
                    template.dedup_window_seconds * 1000,
                    template.dedup_max,
                )
            )
        for (message, template), admitted in zip(
            checked, scripts.window_admit(entries), strict=True
        ):
            if admitted:
                passed.append(message)
            else:
                detail = (
                    f"same content sent to this receiver {template.dedup_max} time(s) "
                    f"in the last {template.dedup_window_seconds}s"
                )
                outcome.stopped.append((message, MessageState.DEDUP_CONTENT, detail))
        passed.sort(key=lambda m: m.id)
        return passed
