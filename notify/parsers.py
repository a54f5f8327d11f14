"""The JSON parser of every API view (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

Kept free of notify.errors: DRF imports parsers while it builds APIView, so this module
must not import rest_framework.views (notify.errors does)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any, NoReturn

from rest_framework.exceptions import ParseError

# get_encoding (DRF's request charset) is not in djangorestframework-stubs yet.
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]

NUL_PROBLEM = "must not contain NUL (\\u0000) characters"


class InputError(ParseError):
    """A 400 naming the field (rendered like notify.errors.ApiError)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.error_code = "invalid_request"
        self.fields = {field: [problem]}


def find_nul(data: Any, path: str = "") -> str | None:
    """The path of the first string (or key) holding a NUL character, e.g.
    'messages[3].variables.name'; None if there is none."""
    if isinstance(data, str):
        return (path or "request") if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return name.replace("\x00", "\\u0000")
            found = find_nul(value, name)
            if found:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = find_nul(value, f"{path}[{index}]")
            if found:
                return found
    return None


class JsonParser(JSONParser):
    """DRF's JSON parser, plus: nesting too deep is a 400 (not a RecursionError), and NUL
    characters are refused here, once for every endpoint, naming the field."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise InputError("request", "JSON nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        # JSON can only carry NUL as an escape; the walk runs only when one is there.
        if "\\u0000" in text:
            where = find_nul(data)
            if where:
                raise InputError(where, NUL_PROBLEM)
        return data


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")
