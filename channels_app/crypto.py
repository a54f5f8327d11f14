"""Channel credentials are encrypted at rest with Fernet (AES-128-CBC + HMAC).

TIDINGS_ENCRYPTION_KEYS lists Fernet keys: the first encrypts, every one decrypts, so a key
can be rotated by putting a new one first. Without keys (local runs only) one is derived
from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(settings.TIDINGS_ENCRYPTION_KEYS)
    if not keys:
        derived = hashlib.sha256(("tidings-credentials:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("TIDINGS_ENCRYPTION_KEYS holds an invalid Fernet key") from exc


def encrypt_json(value: Any) -> str:
    return _fernet().encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()


def decrypt_json(token: str) -> Any:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A channel account's credentials cannot be decrypted with TIDINGS_ENCRYPTION_KEYS"
        ) from exc


def encrypt_text(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with TIDINGS_ENCRYPTION_KEYS"
        ) from exc
