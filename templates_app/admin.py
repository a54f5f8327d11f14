from django.contrib import admin

from templates_app.models import MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "app",
        "channel",
        "message_type",
        "default_priority",
        "status",
        "updated_at",
    ]
    list_filter = ["app", "channel", "message_type", "status", "default_priority"]
    search_fields = ["code", "name"]
    raw_id_fields = ["channel_account"]
