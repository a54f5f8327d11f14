"""Writes for Apps and keys; the send path lives in notify.pipeline."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from notify.authentication import hash_key
from notify.models import ApiKey, App


def api_key_create(app: App, *, name: str = "default") -> str:
    """Create a key and return it; only its hash is kept, so this is the one time it is seen."""
    prefix = secrets.token_hex(6)
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    ApiKey.objects.create(app=app, name=name, prefix=prefix, key_hash=hash_key(key))
    return key


def api_key_revoke(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def app_create(name: str) -> tuple[App, str]:
    app = App.objects.create(name=name)
    return app, api_key_create(app)
