"""Input checks shared by every API view, so bad input is a 4xx naming the field (never a
500 from PostgreSQL or from Python's int/date parsing).

- JSON bodies go through `notify.parsers.JsonParser`: too deep a nesting is a 400, and a NUL character
  (which PostgreSQL refuses in text and jsonb) is a 400 naming where it is.
- Query parameters and URL paths under /api/ are checked for NUL by
  `notify.middleware.ApiInputMiddleware`.
- `int_or_none`, `day_or_error` and `utc_or_error` parse ids, dates and datetimes safely.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.utils.dateparse import parse_date
from rest_framework import serializers

from notify.errors import invalid
from notify.parsers import NUL_PROBLEM, find_nul

__all__ = ["NUL_PROBLEM", "find_nul", "int_or_none", "day_or_error", "utc_or_error"]

# PostgreSQL's bigint, the type of every primary key.
MAX_ID = 2**63 - 1


def int_or_none(value: Any, *, maximum: int = MAX_ID) -> int | None:
    """An int from an int or a string of ASCII digits, within 0..maximum; else None
    ("²".isdigit() is True and int("9" * 5000) raises, so neither is used alone)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= maximum else None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    if len(value) > len(str(maximum)):
        return None
    number = int(value)
    return number if number <= maximum else None


def day_or_error(field: str, raw: str) -> date:
    """YYYY-MM-DD; a well-formed but impossible date (2024-02-31) is a 400 too."""
    try:
        day = parse_date(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise invalid(field, "a valid date, YYYY-MM-DD")
    return day


def utc_or_error(field: str, moment: datetime) -> datetime:
    """An aware datetime in UTC. PostgreSQL refuses offsets past ±15:59 (Python accepts up
    to ±23:59), and shifting year 1 or 9999 may leave the calendar."""
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise invalid(field, "out of the supported date range") from None


class NoNulCharField(serializers.CharField):
    """For values that do not come from a JSON body (forms, CSV cells)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if "\x00" in value:
            raise serializers.ValidationError(NUL_PROBLEM)
        return value
