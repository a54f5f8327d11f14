"""The `scaleway` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import EMAIL, E2ECase, http_fake
from channels_app.providers.scaleway.fake import FakeScaleway


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeScaleway()
    server = http_fake(stack, fake)
    return E2ECase(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        fake.config,
        server.url + fake.api_root,
        lambda: [email.to for email in fake.accepted] == ["ada@example.com"],
    )
