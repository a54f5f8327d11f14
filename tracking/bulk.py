"""COPY into PostgreSQL, the bulk write of a send's messages and of trace events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from django.db import connection

# COPY's text format: these characters are escaped with a backslash; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def copy_json(value: Any) -> str:
    # orjson escapes control characters, so only its backslashes need COPY's escape.
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer past 64 bits: the standard library's JSON
        text = json.dumps(value, separators=(",", ":"))
    return text.replace("\\", "\\\\") if "\\" in text else text


def copy_text(table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """COPY lines already in PostgreSQL's text format, written in chunks of ~1 MB."""
    sql = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'  # noqa: S608 - names are ours
    connection.ensure_connection()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        chunk: list[str] = []
        size = 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size > 1_000_000:
                copy.write("".join(chunk).encode())
                chunk, size = [], 0
        if chunk:
            copy.write("".join(chunk).encode())
