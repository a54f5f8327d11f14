"""Provider access tokens (WeChat, WeCom, DingTalk, FCM…) cached in the shared cache (Redis
in production) with their expiry, so every worker uses one token and refreshes it once."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.cache import cache

# Refresh a little before the provider's expiry so no call goes out with a dying token.
_EXPIRY_MARGIN_SECONDS = 120
_LOCK_SECONDS = 10


def _key(name: str) -> str:
    return f"tidings:token:{name}"


def cached_token(name: str, fetch: Callable[[], tuple[str, int]]) -> str:
    """The cached token `name`, or a new one from `fetch() -> (token, expires_in_seconds)`."""
    token = cache.get(_key(name))
    if token:
        return token
    # One worker refreshes; the others wait briefly for its result instead of stampeding.
    if cache.add(_key(name) + ":lock", "1", _LOCK_SECONDS):
        try:
            token, expires_in = fetch()
            ttl = (
                max(1, int(expires_in) - _EXPIRY_MARGIN_SECONDS)
                if expires_in > _EXPIRY_MARGIN_SECONDS * 2
                else max(1, int(expires_in) // 2)
            )
            cache.set(_key(name), token, ttl)
            return token
        finally:
            cache.delete(_key(name) + ":lock")
    for _ in range(50):
        time.sleep(0.1)
        token = cache.get(_key(name))
        if token:
            return token
    token, expires_in = fetch()
    return token


def token_invalidate(name: str, token: str | None = None) -> None:
    """Forget a token the provider rejected (e.g. WeChat 40001/42001) so the next call refreshes.
    With `token`, only that value is forgotten, so a fresher one another worker stored stays."""
    if token is None or cache.get(_key(name)) == token:
        cache.delete(_key(name))
