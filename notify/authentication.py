"""`Authorization: Api-Key <key>`: the key's prefix finds the row, its SHA-256 proves it.

`request.auth` is the App (every selector filters by it); `request.api_key` is the key,
whose scopes `HasScope` checks against the view's `required_scope`."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from notify.models import ApiKey, App, Scope

if TYPE_CHECKING:
    # Types only: rest_framework.views reads the API settings, which import this module.
    from rest_framework.views import APIView

KEYWORD = "Api-Key"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[None, App] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        if keyword != KEYWORD or not key.strip():
            raise exceptions.AuthenticationFailed("use the header 'Authorization: Api-Key <key>'")
        key = key.strip()
        prefix = key.split(".", 1)[0]
        if len(prefix) > 16 or "\x00" in prefix:
            raise exceptions.AuthenticationFailed("invalid API key")
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
        request.api_key = api_key  # type: ignore[attr-defined]  # read by HasScope and the views
        return (None, api_key.app)

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IsAppAuthenticated(permissions.BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, App)


class HasScope(IsAppAuthenticated):
    """The default permission of every App-key view: the key must hold the view's
    `required_scope` (`send` or `manage`; a view that names none needs `manage`, so a new
    view is closed to send-only keys until someone decides otherwise). A view may also map
    methods to scopes with `required_scopes = {"GET": "send", ...}`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not super().has_permission(request, view):
            return False
        needed = required_scope(view, request.method or "GET")
        api_key = getattr(request, "api_key", None)
        if api_key is None or not api_key.allows(needed):
            raise exceptions.PermissionDenied(
                f"this API key lacks the '{needed}' scope", code="insufficient_scope"
            )
        return True


def required_scope(view: APIView, method: str) -> str:
    by_method = getattr(view, "required_scopes", None) or {}
    return str(by_method.get(method.upper()) or getattr(view, "required_scope", Scope.MANAGE))


def request_app(request: Request) -> App:
    """The App whose API key authenticated this request (views behind HasScope). DRF types
    `request.auth` as a token; here it is always the App."""
    app = request.auth
    if not isinstance(app, App):
        raise exceptions.NotAuthenticated()
    return app
