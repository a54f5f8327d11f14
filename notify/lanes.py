"""Lane groups: the names worker commands take (`celery -A config worker --lanes high`)
instead of hand-written queue lists.

Every lane is "<channel>.<priority>" for every channel a registered provider serves, so a
provider with a new channel is consumed by the documented worker commands without editing
them. Groups:

- a priority (`high`, `normal`, `low`): that priority's lane of every channel;
- `bulk`: every priority but the first (`normal` and `low`);
- a channel (`email`, `sms`, ...): that channel's lanes at every priority;
- `housekeeping`, `campaigns`: the housekeeping queue (beat's tasks) and the campaign
  fan-out queue;
- `all`: every lane plus housekeeping and campaigns (one worker for everything).
"""

from __future__ import annotations

from django.conf import settings

from channels_app.providers.registry import registered_channels
from notify.queueing import lane


class UnknownLaneGroup(ValueError):
    pass


def all_lanes() -> list[str]:
    """Every lane: each registered channel at each priority."""
    return [
        lane(channel, priority)
        for channel in registered_channels()
        for priority in settings.TIDINGS_PRIORITIES
    ]


def lane_channels() -> list[str]:
    """Channels with lanes: every channel of the registry (a new provider's too)."""
    return registered_channels()


def lane_groups() -> dict[str, list[str]]:
    priorities = list(settings.TIDINGS_PRIORITIES)
    channels = lane_channels()
    by_priority = {p: [lane(c, p) for c in channels] for p in priorities}
    service = [settings.TIDINGS_HOUSEKEEPING_QUEUE, settings.TIDINGS_CAMPAIGN_QUEUE]
    groups: dict[str, list[str]] = {
        **by_priority,
        "bulk": [name for p in priorities[1:] for name in by_priority[p]],
        **{c: [lane(c, p) for p in priorities] for c in channels},
        "housekeeping": [settings.TIDINGS_HOUSEKEEPING_QUEUE],
        "campaigns": [settings.TIDINGS_CAMPAIGN_QUEUE],
        "all": [name for p in priorities for name in by_priority[p]] + service,
    }
    return groups


def resolve_lanes(spec: str) -> list[str]:
    """Queue names for "group[,group...]", in order, without repeats."""
    groups = lane_groups()
    queues: list[str] = []
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        if name not in groups:
            known = ", ".join(groups)
            raise UnknownLaneGroup(f"unknown lane group {name!r} (known: {known})")
        queues.extend(q for q in groups[name] if q not in queues)
    if not queues:
        raise UnknownLaneGroup("no lane group given")
    return queues
