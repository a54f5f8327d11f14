"""Python client for the Tidings API: `Tidings(base_url, api_key).send(...)`."""

from tidings_client.client import ENDPOINTS, SendResult, Tidings
from tidings_client.errors import (
    AuthError,
    NotFound,
    RateLimited,
    TidingsError,
    TidingsTimeout,
    UnexpectedState,
    ValidationError,
)

__all__ = [
    "ENDPOINTS",
    "AuthError",
    "NotFound",
    "RateLimited",
    "SendResult",
    "Tidings",
    "TidingsError",
    "TidingsTimeout",
    "UnexpectedState",
    "ValidationError",
]
