"""Typed errors; the API's body is {"error": code, "message": text, "fields": {...}}."""

from __future__ import annotations

from typing import Any


class TidingsError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "error",
        fields: dict[str, list[str]] | None = None,
        body: Any = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields = fields or {}
        self.body = body


class ValidationError(TidingsError):
    """400: `fields` maps each bad field (e.g. "messages[1].receiver") to its problems."""


class AuthError(TidingsError):
    """401 or 403: a missing, wrong or revoked API key, or no permission."""


class NotFound(TidingsError):
    """404."""


class RateLimited(TidingsError):
    """429: `retry_after` is the server's Retry-After in seconds (None if not given)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UnexpectedState(TidingsError):
    """wait_for(): the message settled in a state other than the awaited one."""

    def __init__(self, message: str, *, state: str, detail: dict):
        super().__init__(message, code="unexpected_state")
        self.state = state
        self.detail = detail


class TidingsTimeout(TidingsError):
    """wait_for(): the state was not reached in time; `state` is the last one seen."""

    def __init__(self, message: str, *, state: str | None):
        super().__init__(message, code="timeout")
        self.state = state
