"""Reads of messages and their traces, always scoped to one App."""

from __future__ import annotations

from django.db.models import QuerySet

from notify.models import App
from tracking.models import Message


def message_list(app: App) -> QuerySet[Message]:
    return Message.objects.filter(app=app).select_related("template", "request")


def message_get(app: App, message_id: str) -> Message:
    """Raises Message.DoesNotExist for unknown ids and for other Apps' messages alike."""
    return (
        Message.objects.select_related("template", "request")
        .prefetch_related("events")
        .get(app=app, message_id=message_id)
    )
