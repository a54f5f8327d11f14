"""Receiver checks per receiver id type; each returns the problem or None."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from templates_app.models import ReceiverType

# E.164 (+ and 8-15 digits) or a mainland-China mobile number (optionally +86 / 86 prefixed).
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_CN_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
# \s on str patterns is exactly str.isspace(), searched in C (a 10k-receiver send checks all).
_SPACE = re.compile(r"\s")
_email = EmailValidator()
_url = URLValidator(schemes=["http", "https"])
MAX_RECEIVER_LENGTH = 320


def _check_email(value: str) -> str | None:
    try:
        _email(value)
    except ValidationError:
        return "not a valid email address"
    return None


def _check_phone(value: str) -> str | None:
    if _E164.match(value) or _CN_MOBILE.match(value):
        return None
    return "not a valid phone number (E.164 like +14155550100, or a Chinese mobile number)"


def _check_url(value: str) -> str | None:
    try:
        _url(value)
    except ValidationError:
        return "not a valid http(s) URL"
    return None


def _check_token(value: str) -> str | None:
    if _SPACE.search(value):
        return "must not contain white space"
    return None


CHECKS: dict[str, Callable[[str], str | None]] = {
    ReceiverType.EMAIL: _check_email,
    ReceiverType.PHONE: _check_phone,
    ReceiverType.URL: _check_url,
    ReceiverType.USER_ID: _check_token,
    ReceiverType.OPEN_ID: _check_token,
    ReceiverType.DEVICE_TOKEN: _check_token,
    ReceiverType.CHAT_ID: _check_token,
}


def receiver_problem(receiver_type: str, value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > MAX_RECEIVER_LENGTH:
        return f"longer than {MAX_RECEIVER_LENGTH} characters"
    check = CHECKS.get(receiver_type)
    return check(value) if check else None
