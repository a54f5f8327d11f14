"""Who acts on a campaign: an App (API key) or a staff user (admin, or API with staff
credentials). Four-eyes compares actors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from notify.errors import ApiError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from notify.models import App


@dataclass(frozen=True)
class Actor:
    user: User | None = None  # the default user model (AUTH_USER_MODEL is not changed)
    app: App | None = None

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"admin:{self.user.get_username()}"
        return f"app:{self.app.name}" if self.app is not None else "system"

    @property
    def is_staff(self) -> bool:
        return self.user is not None and self.user.is_active and self.user.is_staff

    def require_staff(self) -> None:
        if not self.is_staff:
            raise ApiError(
                "approval needs a staff user (Django admin account), not an App key: "
                "the App that submits cannot approve its own send",
                code="approval_requires_staff",
                status_code=403,
            )


SYSTEM = Actor()
