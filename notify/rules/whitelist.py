from __future__ import annotations

from datetime import datetime

from django.conf import settings

from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from tracking.models import Message, MessageState


class WhitelistRule(Rule):
    """Outside production an App can keep real people out of test sends: only the listed
    receivers get messages."""

    name = "whitelist"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        if settings.TIDINGS_ENVIRONMENT == "production":
            return messages
        configs = configs_for(messages)
        passed = []
        for message in messages:
            config = configs[message.app_id]
            if config.whitelist_enabled and message.receiver.lower() not in config.whitelist:
                detail = f"{settings.TIDINGS_ENVIRONMENT}: receiver is not on the whitelist"
                outcome.stopped.append((message, MessageState.FILTERED_WHITELIST, detail))
            else:
                passed.append(message)
        return passed
