"""Writes for Apps and keys; the send path lives in notify.pipeline."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from notify.authentication import hash_key
from notify.models import ApiKey, App, Scope


class InvalidScopes(ValueError):
    pass


def scopes_clean(scopes: Iterable[str]) -> list[str]:
    """Known scopes, deduplicated in a stable order; at least one."""
    wanted = [str(s).strip() for s in scopes if str(s).strip()]
    unknown = sorted(set(wanted) - set(Scope.values))
    if unknown:
        raise InvalidScopes(f"unknown scope(s) {', '.join(unknown)}; use {', '.join(Scope.values)}")
    if not wanted:
        raise InvalidScopes(f"give at least one scope: {', '.join(Scope.values)}")
    return [s for s in Scope.values if s in wanted]


def api_key_issue(
    app: App, *, name: str = "default", scopes: Iterable[str] = (Scope.MANAGE,)
) -> tuple[ApiKey, str]:
    """Create a key; only its hash is kept, so the returned key is the one time it is seen."""
    prefix = secrets.token_hex(6)
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        app=app, name=name, prefix=prefix, key_hash=hash_key(key), scopes=scopes_clean(scopes)
    )
    return api_key, key


def api_key_create(
    app: App, *, name: str = "default", scopes: Iterable[str] = (Scope.MANAGE,)
) -> str:
    return api_key_issue(app, name=name, scopes=scopes)[1]


def api_key_revoke(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def app_create(name: str) -> tuple[App, str]:
    """The App and its first key, with the `manage` scope."""
    app = App.objects.create(name=name)
    return app, api_key_create(app, scopes=[Scope.MANAGE])
