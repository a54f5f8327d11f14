"""The `sandbox` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.models import SandboxDelivery
from channels_app.providers.e2e_case import EMAIL, E2ECase


def e2e_case(stack: ExitStack) -> E2ECase:
    return E2ECase(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        arrived=lambda: SandboxDelivery.objects.filter(receiver="ada@example.com").exists(),
    )
