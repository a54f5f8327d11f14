"""What every /api/ path answers before (or instead of) a view: NUL characters in the
path or query string are a 400 naming the parameter (PostgreSQL refuses them in text), and
an unknown /api/ path is a JSON 404, never Django's HTML page (or, with DEBUG, its URL list).
Wrong methods on known paths are DRF's JSON 405 (notify.errors)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from notify.validation import NUL_PROBLEM

API_PREFIX = "/api/"


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, "fields": fields or {}}, status=status)


class ApiInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            field = _nul_field(request)
            if field:
                return _error(
                    400, "invalid_request", f"{field}: {NUL_PROBLEM}", {field: [NUL_PROBLEM]}
                )
        return self.get_response(request)


def _nul_field(request: HttpRequest) -> str | None:
    if "\x00" in request.path:
        return "path"
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return key.replace("\x00", "\\u0000")
    return None


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return _error(404, "not_found", f"no API endpoint at {request.path}")
