"""Template review (four-eyes), for Apps with `require_template_review`:

draft -> pending_review -> active (approved) -> disabled. A change to an active template's
content becomes a pending TemplateVersion; the template keeps sending its approved content
until somebody other than the submitter approves the new one. Every submission and
review is kept (TemplateVersion: who, when, what)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from templates_app.models import MessageTemplate, TemplateStatus, TemplateVersion, VersionStatus


class ReviewError(Exception):
    def __init__(self, message: str, *, status_code: int = 409):
        super().__init__(message)
        self.status_code = status_code


def actor_of(request: Any) -> str:
    """Who acts: a staff user by name, an API caller by its key's public prefix (never
    the secret)."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return f"staff {user.get_username()}"
    header = request.headers.get("Authorization", "")
    prefix = header.partition(" ")[2].strip().split(".", 1)[0][:12]
    return f"api-key {prefix}" if prefix else "api-key"


def review_required(template: MessageTemplate) -> bool:
    return bool(template.app.require_template_review)


def pending_version(template: MessageTemplate) -> TemplateVersion | None:
    return template.versions.filter(status=VersionStatus.PENDING).first()


def _next_number(template: MessageTemplate) -> int:
    return (template.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def version_submit(
    template: MessageTemplate,
    actor: str,
    content: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> TemplateVersion:
    """Submit `content` (default: the template's own, for a draft) for review. A pending
    version already there is superseded by the new one (its review starts over)."""
    now = now or timezone.now()
    if template.status == TemplateStatus.DISABLED:
        raise ReviewError("a disabled template cannot be submitted; set it to draft first")
    with transaction.atomic():
        MessageTemplate.objects.select_for_update().filter(pk=template.pk).first()
        template.versions.filter(status=VersionStatus.PENDING).update(
            status=VersionStatus.SUPERSEDED, reviewed_at=now, note="superseded by a newer change"
        )
        version = TemplateVersion.objects.create(
            template=template,
            number=_next_number(template),
            content=content if content is not None else template.content,
            submitted_by=actor,
            submitted_at=now,
        )
        if template.status == TemplateStatus.DRAFT:
            # Not sending yet: the draft itself waits for review.
            template.status = TemplateStatus.PENDING_REVIEW
            template.save(update_fields=["status", "updated_at"])
    return version


def version_approve(
    template: MessageTemplate, actor: str, now: datetime | None = None
) -> TemplateVersion:
    """Approve the pending version: its content becomes the template's, which is active."""
    now = now or timezone.now()
    with transaction.atomic():
        version = (
            TemplateVersion.objects.select_for_update()
            .filter(template=template, status=VersionStatus.PENDING)
            .first()
        )
        if version is None:
            raise ReviewError("nothing is waiting for review")
        if version.submitted_by == actor:
            raise ReviewError(
                f"four-eyes: {actor} submitted this version; somebody else must approve it",
                status_code=403,
            )
        version.status, version.reviewed_by, version.reviewed_at = (
            VersionStatus.APPROVED,
            actor,
            now,
        )
        version.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        template.content = version.content
        template.status = TemplateStatus.ACTIVE
        template.save(update_fields=["content", "status", "updated_at"])
    return version


def version_reject(
    template: MessageTemplate, actor: str, note: str = "", now: datetime | None = None
) -> TemplateVersion:
    now = now or timezone.now()
    with transaction.atomic():
        version = (
            TemplateVersion.objects.select_for_update()
            .filter(template=template, status=VersionStatus.PENDING)
            .first()
        )
        if version is None:
            raise ReviewError("nothing is waiting for review")
        version.status, version.reviewed_by, version.reviewed_at, version.note = (
            VersionStatus.REJECTED,
            actor,
            now,
            note,
        )
        version.save(update_fields=["status", "reviewed_by", "reviewed_at", "note"])
        if template.status == TemplateStatus.PENDING_REVIEW:
            template.status = TemplateStatus.DRAFT
            template.save(update_fields=["status", "updated_at"])
    return version
