from __future__ import annotations

import hashlib
from datetime import datetime

from notify.rules import scripts
from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from notify.rules.dedup import operator_resends
from notify.rules.night import zone
from tracking.models import Message, MessageState

# Each day has its own key, so the window only needs to outlive the day.
_DAY_WINDOW_MS = 2 * 86_400 * 1000


class FrequencyCapRule(Rule):
    """At most N messages per receiver per channel per day (the App's day), counted across
    every worker by one EVAL per batch. Verification codes are exempt unless capped."""

    name = "frequency"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        resends = operator_resends(messages)
        checked, entries, passed = [], [], []
        days: dict[str, str] = {}  # the day in each App's time zone
        for message in messages:
            if message.id in resends:
                # An operator's resend: not counted against, nor stopped by, the cap.
                passed.append(message)
                continue
            config = configs[message.app_id]
            template = config.template(message.template_id)
            cap = config.cap_for(message.channel, template.message_type if template else "notice")
            if cap <= 0:
                passed.append(message)
                continue
            tz = config.time_zone
            if tz not in days:
                days[tz] = now.astimezone(zone(tz)).strftime("%Y%m%d")
            day = days[tz]
            receiver = hashlib.sha1(message.receiver.encode(), usedforsecurity=False).hexdigest()
            checked.append((message, cap))
            entries.append(
                (
                    scripts.key("freq", message.app_id, message.channel, receiver, day),
                    str(message.id),
                    _DAY_WINDOW_MS,
                    cap,
                )
            )
        for (message, cap), admitted in zip(checked, scripts.window_admit(entries), strict=True):
            if admitted:
                passed.append(message)
            else:
                detail = f"receiver already got {cap} {message.channel} message(s) today"
                outcome.stopped.append((message, MessageState.DEDUP_FREQUENCY, detail))
        passed.sort(key=lambda m: m.id)
        return passed
