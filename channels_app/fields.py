from __future__ import annotations

from typing import Any

from django.db import models

from channels_app.crypto import decrypt_json, decrypt_text, encrypt_json, encrypt_text


class EncryptedJSONField(models.TextField):
    """A JSON value stored as a Fernet token; the database never sees the plain text."""

    # What django-stubs reads as the attribute's type: text in the database, a dict here.
    _pyi_private_set_type: dict[str, Any]  # type: ignore[assignment]
    _pyi_private_get_type: dict[str, Any]  # type: ignore[assignment]

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return decrypt_json(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str:
        return encrypt_json(value if value is not None else {})


class EncryptedTextField(models.TextField):
    """A string stored as a Fernet token (e.g. a callback signing secret); never queried."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        if value is None or value == "":
            return ""
        return decrypt_text(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str:
        return encrypt_text(str(value)) if value not in (None, "") else ""
