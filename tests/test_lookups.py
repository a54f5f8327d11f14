"""`field__any` (config.lookups): the same rows as `__in`, one array parameter on
PostgreSQL."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from notify.models import OptOut


def test_any_finds_what_in_finds_with_one_array_parameter(tenant):
    for receiver in ["a@example.com", "b@example.com", "c@example.com"]:
        OptOut.objects.create(app=tenant, channel="email", receiver=receiver, message_type="x")
    asked = ["a@example.com", "c@example.com", "nobody@example.com", None]
    ids = list(OptOut.objects.order_by("id").values_list("id", flat=True))

    with CaptureQueriesContext(connection) as captured:
        by_any = set(OptOut.objects.filter(receiver__any=asked).values_list("receiver", flat=True))
    by_in = set(OptOut.objects.filter(receiver__in=asked).values_list("receiver", flat=True))

    assert by_any == by_in == {"a@example.com", "c@example.com"}
    with CaptureQueriesContext(connection) as integers:
        assert OptOut.objects.filter(id__any=ids[1:]).count() == 2
    if connection.vendor == "postgresql":  # integers go as one array literal
        [counted] = [q["sql"] for q in integers.captured_queries]
        assert '"id" = ANY(' in counted and "::bigint[])" in counted, counted
    assert OptOut.objects.filter(id__any=[]).count() == 0
    # a subquery is left to IN
    inner = OptOut.objects.filter(receiver="b@example.com").values("id")
    assert list(OptOut.objects.filter(id__any=inner).values_list("id", flat=True)) == [ids[1]]
    [sql] = [q["sql"] for q in captured.captured_queries]
    if connection.vendor == "postgresql":
        assert '"receiver" = ANY(' in sql and " IN (" not in sql
    else:
        assert " IN (" in sql
