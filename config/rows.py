"""Reading many rows cheaply: the consumer loads 500 messages per batch.

Two costs of Django's usual path are avoided here, each with the same result:
- Django's psycopg 3 backend loads every `timestamptz` with a Python subclass of psycopg's
  loader (it sets the zone Django expects). psycopg's C loader returns the same instants
  in the session's zone, which Django sets to that zone: `native_loaders` puts it on one
  cursor. In a py-spy profile of a P2 worker, the Python loader was 8% of the batch.
- `instances_from_rows` builds model instances as `Model.from_db` does, without its
  per-field `__init__` and the pre_init/post_init signals (no receiver listens for the
  models it is used for): 14% of the batch for 500 messages.
JSON columns are decoded by orjson where it reads the value exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from django.db.models.base import ModelState
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import set_json_loads

ModelT = TypeVar("ModelT", bound=Model)


def native_loaders(cursor: CursorWrapper) -> None:
    """On this cursor of a PostgreSQL connection: timestamptz by psycopg's own loader (its
    C implementation when installed: registering the Python class picks it), jsonb decoded
    to Python values as JSONField does (Django loads it as text, for the field to decode)."""
    raw = cursor.cursor
    if settings.USE_TZ:  # else Django strips the zone
        raw.adapters.register_loader("timestamptz", TimestamptzLoader)
    set_json_loads(_json_value, raw)


# orjson reads an integer past 64 bits as a float (1e+20), the standard library exactly: JSON
# with a number this long anywhere (even in a string) is left to the latter. Shared with the
# API's body parser (notify.parsers).
LONG_NUMBER = re.compile(rb"\d{19}")


def _json_value(data: str | bytes) -> Any:
    # Also left to the standard library: what orjson refuses (nested deeper than it goes).
    data = data.encode() if isinstance(data, str) else bytes(data)
    if not LONG_NUMBER.search(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data.decode())


def instances_from_rows(
    model: type[ModelT], attnames: Sequence[str], rows: Iterable[Sequence[Any]], using: str
) -> list[ModelT]:
    """Instances of `model` from rows of already converted values, one per attname, as
    loaded from the database `using`; the model's other fields are deferred (read on
    access, as with `.only()`)."""
    instances = []
    for row in rows:
        instance = model.__new__(model)
        state = ModelState()
        state.adding = False
        state.db = using
        values = instance.__dict__
        values.update(zip(attnames, row, strict=True))
        values["_state"] = state
        instances.append(instance)
    return instances
