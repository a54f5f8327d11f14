from __future__ import annotations

import hashlib
import json
from datetime import datetime

import orjson

from notify.rules import scripts
from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from tracking.models import Message, MessageState


def operator_resends(messages: list[Message]) -> set[int]:
    """Ids of the batch's messages that are resends (POST /messages/{id}/resend, replays):
    an explicit operator intent that content dedup and the frequency cap let through. One
    query per batch when the consumer did not load `resent_from_id`."""
    loaded = [m for m in messages if "resent_from_id" in m.__dict__]
    found = {m.id for m in loaded if m.resent_from_id is not None}
    rest = [m.id for m in messages if "resent_from_id" not in m.__dict__]
    if rest:
        found.update(
            Message.objects.filter(id__in=rest, resent_from__isnull=False).values_list(
                "id", flat=True
            )
        )
    return found


def content_digest(message: Message) -> str:
    content = {k: v for k, v in (message.content or {}).items() if k != "headers"}
    # orjson: a fifth of the standard library's time for the same canonical form (sorted
    # keys, UTF-8); an integer past 64 bits falls back to the standard library.
    try:
        raw = orjson.dumps([message.receiver, content], option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raw = json.dumps(
            [message.receiver, content], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


class ContentDedupRule(Rule):
    """The same rendered content to the same receiver from the same template is sent at
    most `dedup_max` times per sliding window (one EVAL per batch)."""

    name = "dedup"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        resends = operator_resends(messages)
        checked, entries, passed = [], [], []
        for message in messages:
            if message.id in resends:
                passed.append(message)
                continue
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
