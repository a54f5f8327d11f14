from __future__ import annotations

from datetime import datetime

from notify.profiles import opted_out, unsubscribe_url
from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from templates_app.models import MessageType
from tracking.models import Message, MessageState


class PreferencesRule(Rule):
    """Receivers who opted out of a message type on a channel do not get it (one query per
    batch); verification codes cannot be opted out of. Email that may be opted out of
    carries List-Unsubscribe (+ One-Click Post, RFC 8058) headers for the adapters."""

    name = "preferences"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        types = {}
        for message in messages:
            template = configs[message.app_id].template(message.template_id)
            types[message.id] = template.message_type if template else MessageType.NOTICE
        optional = [m for m in messages if types[m.id] != MessageType.VERIFICATION]
        blocked = (
            opted_out({m.app_id for m in optional}, {m.receiver for m in optional})
            if optional
            else set()
        )
        passed = []
        for message in messages:
            message_type = types[message.id]
            if (message.app_id, message.channel, message.receiver, message_type) in blocked:
                detail = f"receiver opted out of {message_type} messages on {message.channel}"
                outcome.stopped.append((message, MessageState.OPTED_OUT, detail))
                continue
            if message.channel == "email" and message_type != MessageType.VERIFICATION:
                url = unsubscribe_url(
                    message.app_id, message.channel, message.receiver, message_type
                )
                headers = dict((message.content or {}).get("headers") or {})
                headers["List-Unsubscribe"] = f"<{url}>"
                headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                message.content = {**message.content, "headers": headers}
            passed.append(message)
        return passed
