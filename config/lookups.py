"""`field__any=[...]`: membership in a list, sent to PostgreSQL as one array parameter
(`= ANY(%s)`) rather than an `IN` list of one parameter per value; elsewhere it is `IN`.

The consumer asks about 500 ids or receivers at a time. As `IN`, Django prepares and
psycopg quotes each value: ~5 ms of a worker's CPU per query, against ~1.5 ms as an array.
For integer and text columns, whose values need no conversion to be compared. Registered on
every field by TrackingConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import IntegerField
from django.db.models.lookups import In
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(In):
    lookup_name = "any"

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        if not self.rhs_is_direct_value():  # a subquery
            return super().as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [value for value in self.rhs if value is not None]  # as IN ignores them
        field = self.lhs.output_field
        if isinstance(getattr(field, "target_field", field), IntegerField) and all(
            type(value) is int for value in values
        ):
            return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, int_array(values))
        return f"{lhs} = ANY(%s)", (*lhs_params, values)


def int_array(values: Iterable[int]) -> str:
    """Integers as one PostgreSQL array literal, for a `%s::bigint[]` parameter: psycopg
    dumps a list element by element in Python (~0.5 ms of CPU for 500 ids), this is one
    join (~0.1 ms)."""
    return "{" + ",".join(map(str, values)) + "}"
