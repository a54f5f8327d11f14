from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notify.models import ApiKey, App, Scope, SendRequest
from notify.services import api_key_create, api_key_revoke

KEY_FIELDS = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = KEY_FIELDS
    readonly_fields = KEY_FIELDS
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "api_rate_limit", "created_at"]
    search_fields = ["name"]
    list_filter = ["is_active"]
    inlines = [ApiKeyInline]
    actions = ["issue_api_key", "issue_send_api_key"]

    @admin.action(description="Issue a new API key with the manage scope (shown once)")
    def issue_api_key(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._issue(request, queryset, [Scope.MANAGE])

    @admin.action(description="Issue a new send-only API key (shown once)")
    def issue_send_api_key(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._issue(request, queryset, [Scope.SEND])

    def _issue(self, request: HttpRequest, queryset: QuerySet[App], scopes: list[str]) -> None:
        for app in queryset:
            key = api_key_create(app, name=f"admin:{request.user.get_username()}", scopes=scopes)
            self.message_user(
                request,
                f"New API key for {app.name} (scopes {', '.join(scopes)}): {key} "
                "(copy it now; it is not stored)",
                messages.WARNING,
            )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix", "app", "name", "scopes", "created_at", "last_used_at", "revoked_at",
    ]  # fmt: skip
    list_filter = ["app"]
    search_fields = ["prefix", "name", "app__name"]
    readonly_fields = [
        "app", "prefix", "key_hash", "scopes", "created_at", "last_used_at", "revoked_at",
    ]  # fmt: skip
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key)


@admin.register(SendRequest)
class SendRequestAdmin(admin.ModelAdmin):
    list_display = [
        "request_id",
        "app",
        "template",
        "priority",
        "accepted_count",
        "rejected_count",
        "created_at",
    ]
    list_filter = ["app", "priority"]
    search_fields = ["request_id", "idempotency_key"]
    readonly_fields = [f.name for f in SendRequest._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Each area registers its own admin pages in its own module.
from notify import admin_campaigns, admin_rules, admin_topics  # noqa: E402,F401
