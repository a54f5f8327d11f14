from __future__ import annotations

from datetime import datetime

from notify.rules.base import Rule, RuleOutcome
from tracking.models import Message, MessageState


class ExpiryRule(Rule):
    """A message past its TTL is never sent late."""

    name = "expiry"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        passed = []
        for message in messages:
            if message.expires_at is not None and message.expires_at <= now:
                detail = f"expired at {message.expires_at.isoformat()} before it could be sent"
                outcome.stopped.append((message, MessageState.EXPIRED, detail))
            else:
                passed.append(message)
        return passed
