"""Every API error is JSON: {"error": code, "message": text, "fields": {field: [problems]}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from notify.parsers import InputError


class ApiError(exceptions.APIException):
    def __init__(
        self, message: str, *, code: str, status_code: int = 400, fields: dict | None = None
    ):
        super().__init__(message)
        self.status_code = status_code
        self.error_code = code
        self.fields = fields or {}


def invalid(field: str, problem: str, *, code: str = "invalid_request") -> ApiError:
    return ApiError(f"{field}: {problem}", code=code, fields={field: [problem]})


def api_exception_handler(exc, context):
    if isinstance(exc, ProtectedError | RestrictedError):
        return Response(
            {
                "error": "in_use",
                "message": "it is still referenced (e.g. by messages or templates); disable it instead",
                "fields": {},
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, RecursionError):
        # Nesting deep enough to pass the parser but not the code after it.
        exc = InputError("request", "JSON nested too deeply")
    if isinstance(exc, ApiError | InputError):
        body = {"error": exc.error_code, "message": str(exc.detail), "fields": exc.fields}
        return Response(body, status=exc.status_code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), ("request", ["invalid"]))
        message = f"{first[0]}: {first[1][0]}"
        response.data = {"error": "invalid_request", "message": message, "fields": fields}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = {"error": code, "message": str(exc.detail), "fields": {}}
    return response


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """{"messages": [{}, {"receiver": ["x"]}]} -> {"messages[1].receiver": ["x"]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "request" if key == "non_field_errors" and not prefix else key
            if isinstance(key, int):  # a ListField's errors by index: scopes[0]
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{name}" if prefix else str(name)
            out.update(_flatten(value, path))
        return out
    if isinstance(detail, list) and detail and all(isinstance(item, str) for item in detail):
        return {prefix or "request": [str(item) for item in detail]}
    if isinstance(detail, list):
        out = {}
        for index, item in enumerate(detail):
            if item:
                out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "request": [str(detail)]}
