"""Every API error is JSON: {"error": code, "message": text, "fields": {field: [problems]}}."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import psycopg
import redis.exceptions
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from notify.parsers import InputError

logger = logging.getLogger(__name__)

# A dependency that is down (PostgreSQL, the broker, Redis): the request may succeed in a
# moment, so the answer is 503 with Retry-After, never a 500 (psycopg's own classes too,
# for code that talks to psycopg below Django's wrapper, e.g. COPY).
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


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


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponseBase | None:
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return _unavailable(exc, Response)
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
        assert isinstance(exc, exceptions.APIException)  # DRF answered it: one of its own
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = {"error": code, "message": str(exc.detail), "fields": {}}
    return response


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
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


def _unavailable(
    exc: BaseException, response_class: Callable[..., HttpResponseBase]
) -> HttpResponseBase:
    logger.error("dependency unavailable: %s: %s", type(exc).__name__, exc)
    response = response_class(
        {
            "error": "service_unavailable",
            "message": f"{_dependency(exc)} is unavailable; retry later",
            "fields": {},
        },
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(settings.TIDINGS_UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


def _dependency(exc: BaseException) -> str:
    if isinstance(exc, redis.exceptions.RedisError):
        return "Redis"
    if isinstance(exc, kombu.exceptions.KombuError):
        return "the broker"
    return "the database"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponseBase:
    """503 + Retry-After: JSON under /api/ (and for JSON clients), plain text elsewhere."""
    if _is_api(request) or "json" in request.headers.get("Accept", ""):
        return _unavailable(exc, JsonResponse)
    logger.error("dependency unavailable: %s: %s", type(exc).__name__, exc)
    response = HttpResponse(
        f"{_dependency(exc)} is unavailable; retry later\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(settings.TIDINGS_UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


class DependencyUnavailableMiddleware:
    """A view that hits a dead database, broker or Redis answers 503 + Retry-After.

    DRF views get the same answer from `api_exception_handler`; this covers plain Django
    views (admin, receipts, click redirects, /metrics) and whatever DRF re-raises.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponseBase | None:
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return unavailable_response(request, exc)
        return None


def server_error(request: HttpRequest) -> HttpResponseBase:
    """handler500: what escaped views and middleware (Django calls it inside the except
    block, so the exception is at hand). A dead dependency is a 503; under /api/ every
    error is JSON, never Django's HTML page."""
    exc = sys.exc_info()[1]
    if exc is not None and isinstance(exc, UNAVAILABLE_ERRORS):
        return unavailable_response(request, exc)
    if _is_api(request):
        return JsonResponse(
            {"error": "server_error", "message": "internal server error", "fields": {}},
            status=500,
        )
    return defaults.server_error(request)
