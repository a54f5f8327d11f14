"""Consumer rules: each looks at a whole claimed batch and lets messages pass, stops them
with a final state, or defers them to later. Rules run in TIDINGS_RULES order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from tracking.models import Message


@dataclass
class RuleOutcome:
    # (message, final state, detail): the message is not sent.
    stopped: list[tuple[Message, str, str]] = field(default_factory=list)
    # (message, not before, event state, detail): the message is sent later, not dropped.
    deferred: list[tuple[Message, datetime, str, str]] = field(default_factory=list)
    # (message, event state, detail): recorded in the trace, the message goes on.
    noted: list[tuple[Message, str, str]] = field(default_factory=list)


class Rule:
    name: str = ""

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        """Return the messages that go on; put the others in `outcome`."""
        raise NotImplementedError


@cache
def _rules(paths: tuple[str, ...]) -> tuple[Rule, ...]:
    return tuple(import_string(path)() for path in paths)


def rules_load() -> tuple[Rule, ...]:
    """The configured rules (TIDINGS_RULES), imported and built once per process."""
    return _rules(tuple(settings.TIDINGS_RULES))


def rules_run(messages: list[Message], now: datetime) -> tuple[list[Message], RuleOutcome]:
    outcome = RuleOutcome()
    for rule in rules_load():
        if not messages:
            break
        messages = rule.apply(messages, now, outcome)
    return messages, outcome
