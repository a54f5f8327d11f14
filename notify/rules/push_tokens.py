from __future__ import annotations

from datetime import datetime

from notify.profiles import dead_push_tokens
from notify.rules.base import Rule, RuleOutcome
from tracking.models import Message, MessageState


class DeadPushTokenRule(Rule):
    """Push messages to a device token the provider declared dead (FCM UNREGISTERED, APNs
    410 Unregistered, ...) are not sent again: they end FAILED with the recorded reason,
    one query per batch. A profile registering the token anew revives it."""

    name = "dead_push_tokens"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        push = [m for m in messages if m.channel == "push"]
        if not push:
            return messages
        dead = dead_push_tokens({m.app_id for m in push}, {m.receiver for m in push})
        if not dead:
            return messages
        passed = []
        for message in messages:
            why = (
                dead.get((message.app_id, message.receiver)) if message.channel == "push" else None
            )
            if why is None:
                passed.append(message)
                continue
            detail = f"not sent: the device token is dead ({why})"
            outcome.stopped.append((message, MessageState.FAILED, detail))
        return passed
