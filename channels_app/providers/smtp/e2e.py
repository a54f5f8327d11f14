"""The `smtp` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import EMAIL, E2ECase
from channels_app.providers.smtp.fake import FakeSMTPServer


def e2e_case(stack: ExitStack) -> E2ECase:
    server = stack.enter_context(FakeSMTPServer())
    return E2ECase(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        {"host": "127.0.0.1", "port": server.port, "from_email": "no-reply@acme.test"},
        arrived=lambda: (
            [m[0] for m in server.messages] == [["ada@example.com"]]
            and server.messages[0][1]["Subject"] == "Hi Ada"
        ),
    )
