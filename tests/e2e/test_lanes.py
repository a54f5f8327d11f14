"""Lane groups: worker commands name groups (`--lanes high`), resolved from the registry."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from channels_app.providers.registry import PROVIDERS, get_adapter_class
from notify.lanes import UnknownLaneGroup, lane_groups, resolve_lanes
from notify.queueing import lane
from tests.e2e.conftest import ROOT, wait_until
from tracking.models import Message, MessageState

pytestmark = pytest.mark.e2e

COMPOSE = Path(ROOT) / "docker" / "compose.yml"
OPERATIONS = Path(ROOT) / "docs" / "operations.md"


def _compose_groups() -> list[str]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    groups: list[str] = []
    for name, service in services.items():
        command = service.get("command") or ""
        command = command if isinstance(command, str) else " ".join(command)
        if " worker" not in command:
            continue
        assert " -Q" not in command, f"{name}: hand-written queue list; use --lanes"
        match = re.search(r"--lanes[ =](\S+)", command)
        assert match, f"{name}: a worker without --lanes"
        groups.extend(match.group(1).split(","))
    return groups


def _documented_groups() -> list[str]:
    specs = re.findall(r"worker [^\n`]*--lanes ([a-z_,]+)", OPERATIONS.read_text())
    return [group for spec in specs for group in spec.split(",")]


def _every_queue() -> set[str]:
    channels = {c for name in PROVIDERS for c in get_adapter_class(name).channels}
    lanes = {lane(c, p) for c in channels for p in settings.TIDINGS_PRIORITIES}
    return lanes | {settings.TIDINGS_HOUSEKEEPING_QUEUE, settings.TIDINGS_CAMPAIGN_QUEUE}


@pytest.mark.parametrize("source", [_compose_groups, _documented_groups])
def test_the_deployed_and_documented_workers_consume_every_registered_lane(source):
    groups = source()
    assert groups
    covered = set(resolve_lanes(",".join(groups)))
    assert _every_queue() <= covered, sorted(_every_queue() - covered)


def test_groups_resolve_from_the_registry_and_unknown_names_are_refused():
    groups = lane_groups()
    assert set(groups["high"]) == {q for q in _every_queue() if q.endswith(".high")}
    assert set(groups["bulk"]) == set(groups["normal"]) | set(groups["low"])
    assert groups["email"] == ["email.high", "email.normal", "email.low"]
    assert set(groups["all"]) == _every_queue()
    assert resolve_lanes("housekeeping,campaigns,housekeeping") == ["housekeeping", "campaigns"]
    with pytest.raises(UnknownLaneGroup, match="'urgent'"):
        resolve_lanes("high,urgent")


def _send(api, priority: str) -> str:
    reply = api.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": ["a@example.com"], "variables": {"name": "A", "code": "1"},
         "priority": priority},
        format="json",
    )  # fmt: skip
    assert reply.status_code == 202, reply.content
    return reply.json()["messages"][0]["message_id"]


def test_a_worker_started_with_lanes_high_consumes_high_lanes_only(
    api, email_template, broker, start_worker
):
    high, low = _send(api, "high"), _send(api, "low")
    assert broker.llen("email.high") == 1 and broker.llen("email.low") == 1

    start_worker(lanes="high")

    def state(message_id: str) -> str:
        return Message.objects.get(message_id=message_id).state

    assert wait_until(lambda: state(high) in (MessageState.SENT, MessageState.DELIVERED), 60)
    time.sleep(2)  # a worker that also took email.low would have had time to take it
    assert state(low) == MessageState.QUEUED
    assert broker.llen("email.low") == 1
