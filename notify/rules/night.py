from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from datetime import time as dtime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notify.models import NightMode, UserProfile
from notify.models.profiles import PROFILE_CHANNEL_FIELDS
from notify.rules.base import Rule, RuleOutcome
from notify.rules.config import configs_for
from tracking.models import Message, MessageState


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_quiet_hours(local: datetime, start: dtime, end: dtime) -> bool:
    t = local.timetz().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end  # the window spans midnight


def quiet_hours_end(local: datetime, end: dtime) -> datetime:
    """The next `end` o'clock after `local`, in `local`'s zone (DST-safe via the zone)."""
    candidate = datetime.combine(local.date(), end, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=local.tzinfo)
    return candidate


def profile_time_zones(messages: list[Message]) -> dict[tuple[int, str, str], str]:
    """(app, channel, receiver) -> the receiver's time zone, for receivers with a profile
    that knows it: one query per channel in the batch."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    apps = {m.app_id for m in messages}
    for message in messages:
        field = PROFILE_CHANNEL_FIELDS.get(message.channel)
        if field:
            wanted[(message.channel, field)].add(message.receiver)
    zones: dict[tuple[int, str, str], str] = {}
    for (channel, field), receivers in wanted.items():
        rows = (
            UserProfile.objects.filter(app_id__in=apps, **{f"{field}__in": receivers})
            .exclude(time_zone="")
            .values_list("app_id", field, "time_zone")
        )
        for app_id, receiver, time_zone in rows:
            zones[(app_id, channel, receiver)] = time_zone
    return zones


class NightShieldRule(Rule):
    """Quiet hours (default 22:00-08:00) in the receiver's time zone when the profile knows
    it, else the App's: per template, send anyway, drop, or defer to the window's end
    spread over a few minutes."""

    name = "night"

    def apply(self, messages: list[Message], now: datetime, outcome: RuleOutcome) -> list[Message]:
        configs = configs_for(messages)
        shielded = []
        passed = []
        for message in messages:
            template = configs[message.app_id].template(message.template_id)
            if template is None or template.night_mode == NightMode.NONE:
                passed.append(message)
            else:
                shielded.append((message, template.night_mode))
        if not shielded:
            return passed
        zones = profile_time_zones([m for m, _ in shielded])
        # Resends whose caller asked to send them in quiet hours (the consumer loads the flag).
        overridden = {m.id for m, _ in shielded if m.ignore_quiet_hours}
        for message, mode in shielded:
            config = configs[message.app_id]
            tz_name = zones.get(
                (message.app_id, message.channel, message.receiver), config.time_zone
            )
            local = now.astimezone(zone(tz_name))
            if message.id in overridden or not in_quiet_hours(
                local, config.quiet_start, config.quiet_end
            ):
                passed.append(message)
                continue
            window = f"{config.quiet_start:%H:%M}-{config.quiet_end:%H:%M} {zone(tz_name).key}"
            if mode == NightMode.DROP:
                outcome.stopped.append(
                    (message, MessageState.NIGHT_DROPPED, f"quiet hours {window}")
                )
                continue
            spread = random.uniform(0, config.night_release_spread_seconds)  # noqa: S311
            release = quiet_hours_end(local, config.quiet_end) + timedelta(seconds=spread)
            detail = f"quiet hours {window}: released at {release.isoformat(timespec='seconds')}"
            outcome.deferred.append((message, release, MessageState.NIGHT_DEFERRED, detail))
        passed.sort(key=lambda m: m.id)
        return passed
