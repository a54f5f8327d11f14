"""drf-spectacular extensions so /api/schema/ describes Api-Key auth and template refs."""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "notify.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; the first key comes from `manage.py create_app NAME`, "
            "more from `manage.py create_api_key` or `POST /api/v1/api-keys`.",
        }


class InboxTokenScheme(OpenApiAuthenticationExtension):
    target_class = "channels_app.inbox_api.InboxTokenAuthentication"
    name = "InboxToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Bearer <token>`; the App issues one per user with "
            "`POST /api/v1/inbox-tokens`.",
        }


class TemplateRefFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "notify.api.TemplateRefField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"oneOf": [build_basic_type(OpenApiTypes.INT), build_basic_type(OpenApiTypes.STR)]}


class LocalTimeFieldExtension(OpenApiSerializerFieldExtension):
    """A wall-clock time ("22:00:00", no offset). OpenAPI's `format: time` is RFC 3339's
    full-time, which needs an offset, so the answers would not match it."""

    target_class = "rest_framework.fields.TimeField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "example": "22:00:00",
        }
