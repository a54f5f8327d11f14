"""`Authorization: Api-Key <key>`: the key's prefix finds the row, its SHA-256 proves it."""

from __future__ import annotations

import hashlib
import hmac

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from notify.models import ApiKey, App

KEYWORD = "Api-Key"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        if keyword != KEYWORD or not key.strip():
            raise exceptions.AuthenticationFailed("use the header 'Authorization: Api-Key <key>'")
        key = key.strip()
        prefix = key.split(".", 1)[0]
        api_key = (
            ApiKey.objects.select_related("app")
            .filter(prefix=prefix, revoked_at__isnull=True, app__is_active=True)
            .first()
        )
        if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_key(key)):
            raise exceptions.AuthenticationFailed("invalid API key")
        now = timezone.now()
        # One write a minute at most, not one per request.
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return (None, api_key.app)

    def authenticate_header(self, request) -> str:
        return KEYWORD


class IsAppAuthenticated(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, App)
