"""The `ses` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import EMAIL, E2ECase, http_fake
from channels_app.providers.ses.fake import FakeSes


def e2e_case(stack: ExitStack) -> E2ECase:
    fake = FakeSes()
    server = http_fake(stack, fake)
    fake.url = server.url
    config = {
        "region": fake.region,
        "access_key_id": fake.access_key_id,
        "secret_access_key": fake.secret_access_key,
        "from_email": "Acme <news@acme.test>",
    }
    return E2ECase(
        "email",
        "email",
        "ada@example.com",
        EMAIL,
        config,
        server.url,
        lambda: (
            [s["params"]["Destination"]["ToAddresses"] for s in fake.sent] == [["ada@example.com"]]
        ),
    )
