"""drf-spectacular extensions so /api/schema/ describes Api-Key auth and template refs."""

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "notify.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create a key with `manage.py create_app NAME`.",
        }


class InboxTokenScheme(OpenApiAuthenticationExtension):
    target_class = "channels_app.inbox_api.InboxTokenAuthentication"
    name = "InboxToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Bearer <token>`; the App issues one per user with "
            "`POST /api/v1/inbox-tokens`.",
        }


class TemplateRefFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "notify.api.TemplateRefField"

    def map_serializer_field(self, auto_schema, direction):
        return {"oneOf": [build_basic_type(OpenApiTypes.INT), build_basic_type(OpenApiTypes.STR)]}
