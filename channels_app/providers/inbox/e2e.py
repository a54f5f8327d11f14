"""The `inbox` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.models import InboxItem
from channels_app.providers.e2e_case import E2ECase


def e2e_case(stack: ExitStack) -> E2ECase:
    return E2ECase(
        "inbox",
        "user_id",
        "user-7",
        {"title": "Welcome", "body": "Hi {$name}", "data": {"link": "/start"}},
        arrived=lambda: InboxItem.objects.filter(user_id="user-7", body="Hi Ada").exists(),
    )
