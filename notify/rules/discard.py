from __future__ import annotations

from datetime import datetime

from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from tracking.models import Message, MessageState


class DiscardRule(Rule):
    """Templates or whole channels an operator switched off are not sent."""

    name = "discard"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        passed = []
        for message in messages:
            config = configs[message.app_id]
            template = config.template(message.template_id)
            if message.channel in config.discarded_channels:
                detail = f"channel {message.channel!r} is switched off by an operator"
            elif template is not None and template.discarded:
                detail = f"template {template.code!r} is switched off by an operator"
            else:
                passed.append(message)
                continue
            outcome.stopped.append((message, MessageState.DISCARDED, detail))
        return passed
