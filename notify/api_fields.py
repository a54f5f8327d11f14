"""Request fields and sizes shared by the send API and the campaigns API."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from notify.validation import int_or_none

_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


class TemplateRefField(serializers.Field):
    default_error_messages = {"invalid": "give the template's id (integer) or code (string)"}

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str) or data == "":
            self.fail("invalid")
        if isinstance(data, int) and int_or_none(data) is None:
            self.fail("invalid")
        if isinstance(data, str) and len(data) > 200:
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


def json_bytes(value: Any) -> int:
    return len(_compact.encode(value).encode())
