from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from notify.models import App
from notify.validation import int_or_none
from templates_app.models import MessageTemplate


def template_list(app: App) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(app=app).order_by("id")


def template_find(templates: QuerySet[MessageTemplate], ref: Any) -> MessageTemplate | None:
    """A template named by its code, or by its id (an int, or a string of ASCII digits when
    no template has that code); None when none answers."""
    if isinstance(ref, str):
        template = templates.filter(code=ref).first()
        if template is None and (pk := int_or_none(ref)) is not None:
            template = templates.filter(pk=pk).first()
        return template
    if int_or_none(ref) is not None:
        return templates.filter(pk=ref).first()
    return None


def template_ref_q(ref: str, relation: str = "template") -> Q:
    """Rows whose template (through `relation`) has this code, or this id."""
    condition = Q(**{f"{relation}__code": ref})
    if (pk := int_or_none(ref)) is not None:
        condition |= Q(**{f"{relation}_id": pk})
    return condition
