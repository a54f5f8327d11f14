from __future__ import annotations

from django.db.models import QuerySet

from channels_app.models import ChannelAccount
from notify.models import App


def channel_account_list(app: App) -> QuerySet[ChannelAccount]:
    return ChannelAccount.objects.filter(app=app).order_by("id")
