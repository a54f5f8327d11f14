"""Admin pages for topics and their subscribers."""

from django.contrib import admin

from notify.models import Topic, TopicSubscription


class SubscriptionInline(admin.TabularInline):
    model = TopicSubscription
    extra = 1
    raw_id_fields = ["profile"]
    fields = ["profile", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "app", "created_at"]
    list_filter = ["app"]
    search_fields = ["code", "name"]
    inlines = [SubscriptionInline]
