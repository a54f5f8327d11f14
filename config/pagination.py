"""Every list is paginated with a ceiling: `?limit=10000000000000000000` is clamped to
TIDINGS_API_MAX_PAGE_SIZE, never passed to PostgreSQL (where it was a 500)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination, LimitOffsetPagination
from rest_framework.request import Request

from notify.validation import int_or_none


class LimitOffsetPage(LimitOffsetPagination):
    """The default list pagination (`?limit=&offset=`)."""

    # A property, not an attribute, so that settings overrides (tests) apply.
    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.TIDINGS_API_MAX_PAGE_SIZE

    def get_limit(self, request: Request) -> int | None:
        # Also caps the default page (PAGE_SIZE) when the asked limit was unreadable.
        limit = super().get_limit(request)
        return min(limit, self.max_limit) if limit is not None else limit

    def get_offset(self, request: Request) -> int:
        # An offset past the end answers an empty page without querying; past bigint it
        # must not reach the database either.
        return min(super().get_offset(request), 2**62)


class IdCursorPagination(CursorPagination):
    """Newest first by primary key. The cursor's position must be an id, else 404 as for
    any other damaged cursor (it was a ValueError from the queryset, a 500)."""

    ordering = "-id"

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            if int_or_none(cursor.position) is None:
                raise NotFound(self.invalid_cursor_message)
        return cursor
