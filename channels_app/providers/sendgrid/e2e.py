"""The `sendgrid` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import EMAIL, E2ECase, http_fake
from channels_app.providers.sendgrid.fake import FakeSendGrid


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeSendGrid()
    server = http_fake(stack, fake)
    return E2ECase(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        {"api_key": fake.api_key, "from_email": "news@acme.test"},
        server.url + "/v3",
        lambda: (
            [s["personalizations"][0]["to"] for s in fake.sent] == [[{"email": "ada@example.com"}]]
        ),
    )
