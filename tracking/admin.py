from django.contrib import admin

from tracking.models import Message, MessageEvent


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    fields = ["at", "state", "detail"]
    readonly_fields = fields
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "message_id",
        "receiver",
        "template",
        "channel",
        "priority",
        "state",
        "attempts",
        "created_at",
    ]
    list_filter = ["state", "channel", "priority", "app"]
    search_fields = ["=message_id", "receiver", "biz_id", "provider_message_id"]
    list_select_related = ["template"]
    date_hierarchy = "created_at"
    inlines = [MessageEventInline]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
