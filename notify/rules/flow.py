from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import datetime, timedelta

from notify.models import FlowCountBy
from notify.rules import scripts
from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from tracking.models import Message, MessageState


class FlowControlRule(Rule):
    """A token bucket per channel account, shared by all workers through Redis: one EVAL per
    account in the batch grants what the bucket holds; the rest waits (re-queued with the
    delay its tokens need), it is never dropped."""

    name = "flow"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        by_account: dict[int, list[Message]] = defaultdict(list)
        passed = []
        for message in messages:
            flow = configs[message.app_id].flow.get(message.account_id or 0)
            if flow is None or message.account_id is None:
                passed.append(message)
            else:
                by_account[message.account_id].append(message)
        for account_id, group in by_account.items():
            flow = configs[group[0].app_id].flow[account_id]
            # Counted by requests, one token covers what one provider call carries.
            per_token = flow.messages_per_request if flow.count_by == FlowCountBy.REQUESTS else 1
            wanted = math.ceil(len(group) / per_token)
            granted, left = scripts.token_bucket_take(
                scripts.key("flow", account_id), flow.rate_per_second, flow.burst, wanted
            )
            cut = min(len(group), granted * per_token)
            passed.extend(group[:cut])
            for index, message in enumerate(group[cut:]):
                # The n-th missing token arrives after (n - left) / rate seconds; spreading
                # the waiters at that pace keeps them from all coming back at once.
                token_no = index // per_token + 1
                wait = max(0.0, token_no - left) / flow.rate_per_second
                wait += random.uniform(0, 1 / flow.rate_per_second)  # noqa: S311
                detail = (
                    f"account over {flow.rate_per_second:g}/s ({flow.count_by}): waits {wait:.1f}s"
                )
                outcome.deferred.append(
                    (message, now + timedelta(seconds=wait), MessageState.THROTTLED, detail)
                )
        passed.sort(key=lambda m: m.id)
        return passed
