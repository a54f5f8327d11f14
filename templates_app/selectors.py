from __future__ import annotations

from django.db.models import QuerySet

from notify.models import App
from templates_app.models import MessageTemplate


def template_list(app: App) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(app=app).order_by("id")
