from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from channels_app.models import ChannelAccount, InboxItem
from notify.models import App

if TYPE_CHECKING:
    from channels_app.inbox import InboxUser


def channel_account_list(app: App) -> QuerySet[ChannelAccount]:
    return ChannelAccount.objects.filter(app=app).order_by("id")


def inbox_item_list(user: InboxUser, *, unread_only: bool = False) -> QuerySet[InboxItem]:
    items = InboxItem.objects.filter(app=user.app, user_id=user.user_id).select_related("message")
    if unread_only:
        items = items.filter(read_at__isnull=True)
    return items.only("id", "title", "body", "data", "created_at", "read_at", "message__message_id")


def inbox_unread_count(user: InboxUser) -> int:
    return InboxItem.objects.filter(
        app=user.app, user_id=user.user_id, read_at__isnull=True
    ).count()
