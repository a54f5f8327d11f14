"""The JSON parser of every API view (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

Kept free of notify.errors: DRF imports parsers while it builds APIView, so this module
must not import rest_framework.views (notify.errors does)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any, NoReturn

import orjson
from rest_framework.exceptions import ParseError

# get_encoding (DRF's request charset) is not in djangorestframework-stubs yet.
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]

from config.rows import LONG_NUMBER

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
    characters are refused here, once for every endpoint, naming the field.

    UTF-8 bodies (all of them, in practice) are parsed by orjson, ~4x faster than the
    standard library on a 10k-receiver send; a body orjson refuses is parsed again by the
    standard library, so what is accepted and every error message stay as they were
    (orjson refuses some JSON the standard library takes: integers past 64 bits, lone
    surrogate escapes)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        raw = stream.read() if stream is not None else b""
        if encoding.lower().replace("-", "") == "utf8" and not LONG_NUMBER.search(raw):
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = _FALL_BACK
            if data is not _FALL_BACK and not _deeper_than(data, FAST_MAX_DEPTH, raw):
                # JSON can only carry NUL as an escape; the walk runs only when one is there.
                if b"\\u0000" in raw:
                    _refuse_nul(data)
                return data
        try:
            text = codecs.decode(raw, encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise InputError("request", "JSON nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if "\\u0000" in text:
            _refuse_nul(data)
        return data


# orjson nests up to 1024 levels, the standard library as deep as Python's stack allows
# (~900 under a request): bodies deeper than this are left to the standard library, so a
# nesting it refuses is still the 400 "JSON nested too deeply".
FAST_MAX_DEPTH = 500
_FALL_BACK = object()
_CONTAINERS = (dict, list)


def _deeper_than(data: Any, limit: int, raw: bytes) -> bool:
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # not enough brackets to nest that deep
    level, depth = [data], 1
    while level:
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) in _CONTAINERS
        ]
        depth += 1
    return False


def _refuse_nul(data: Any) -> None:
    where = find_nul(data)
    if where:
        raise InputError(where, NUL_PROBLEM)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")
