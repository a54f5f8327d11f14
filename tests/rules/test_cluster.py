"""Two real worker processes at once, each with two pool processes, racing on single-message
tasks: the frequency cap and the flow limit are shared through Redis, so together they never
exceed one cap."""

from __future__ import annotations

import time

import pytest

from channels_app.models import ChannelAccount
from notify.models import FlowLimit, RuleSettings
from tests.e2e.conftest import final_states, wait_until
from tracking.models import Message, MessageEvent

pytestmark = pytest.mark.e2e


def _send(api, receivers_and_codes):
    response = api.post(
        "/api/v1/send",
        {
            "template": "welcome",
            "messages": [
                {"receiver": receiver, "variables": {"name": "x", "code": code}}
                for receiver, code in receivers_and_codes
            ],
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    return [m["message_id"] for m in response.json()["messages"]]


def test_two_workers_never_exceed_one_cap(api, tenant, email_template, start_worker, settings):
    # given: one task per message, so both workers' four processes race for them
    settings.TIDINGS_BATCH_SIZE = 1
    RuleSettings.objects.create(app=tenant, frequency_cap=3)
    for _ in range(2):
        start_worker(concurrency=2, TIDINGS_RULES_CACHE_SECONDS="0.3")

    # when 12 different messages go to one receiver
    capped = _send(api, [("ada@example.com", str(i)) for i in range(12)])

    # then exactly three are sent
    def settled() -> bool:
        counts = final_states(capped)
        return counts.get("SENT", 0) + counts.get("DEDUP_FREQUENCY", 0) == len(capped)

    assert wait_until(settled, timeout=60)
    assert final_states(capped) == {"SENT": 3, "DEDUP_FREQUENCY": 9}

    # given a flow limit added while the workers run (no restart): 2 at once, then 4/s
    FlowLimit.objects.create(
        account=ChannelAccount.objects.get(name="sandbox-email"), rate_per_second=4, burst=2
    )
    time.sleep(0.5)  # the workers' rule cache expires
    # when 12 go to different receivers
    flowed = _send(api, [(f"u{i}@example.com", "1") for i in range(12)])

    # then every one is sent (none dropped), at no more than the bucket allows
    assert wait_until(lambda: final_states(flowed).get("SENT", 0) == 12, timeout=60)
    ids = Message.objects.filter(message_id__in=flowed).values_list("id", flat=True)
    sends = sorted(
        MessageEvent.objects.filter(message_id__in=ids, state="SENDING").values_list(
            "at", flat=True
        )
    )
    assert len(sends) == 12
    for index, at in enumerate(sends):
        earliest = (index + 1 - 2) / 4  # burst 2, then one token per 0.25 s
        assert (at - sends[0]).total_seconds() >= earliest - 0.15, (index, sends)
    assert MessageEvent.objects.filter(message_id__in=ids, state="THROTTLED").exists()
