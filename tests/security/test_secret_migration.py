"""The migration that encrypts status-callback secrets already stored in plain text."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from channels_app.crypto import decrypt_text
from tracking.models import CallbackEndpoint

BEFORE = ("tracking", "0008_partition_by_time_f")
AFTER = ("tracking", "0009_callback_secret_encrypted_b2b")


def _migrate(target=None) -> None:
    """To `target`, or back to the latest state of every app."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def _raw_secret(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM tracking_callbackendpoint WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_existing_plain_secrets_are_encrypted_and_back(transactional_db, tenant):
    endpoint = CallbackEndpoint.objects.create(
        app=tenant, url="https://cb.example.com/in", secret="plain-secret-0123456789"
    )
    try:
        _migrate(BEFORE)
        assert _raw_secret(endpoint.pk) == "plain-secret-0123456789"  # decrypted on the way back
        _migrate(AFTER)
        raw = _raw_secret(endpoint.pk)
        assert raw != "plain-secret-0123456789"
        assert decrypt_text(raw) == "plain-secret-0123456789"
        assert CallbackEndpoint.objects.get(pk=endpoint.pk).secret == "plain-secret-0123456789"
    finally:
        _migrate()
