"""Primary and read replica.

Writes, migrations and ordinary reads use the primary (`default`). Reads that tolerate a
moment of replication lag — traces, message lists, receiver lookups, stats and dashboards —
ask `read_db()` and go to the streaming replica when `DATABASE_REPLICA_URL` is set.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

REPLICA = "replica"


def read_db() -> str:
    """The alias for lag-tolerant reads: the replica when one is configured."""
    return REPLICA if REPLICA in settings.DATABASES else "default"


class PrimaryReplicaRouter:
    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return None  # the primary, unless a selector asked for read_db() explicitly

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool | None:
        # A row read from the replica is the same row as on the primary.
        return {obj1._state.db, obj2._state.db} <= {"default", REPLICA} or None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "default"
