"""The `apprise` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.fakes_http import Reply


def e2e_case(stack: ExitStack) -> E2ECase:
    server = http_fake(stack, lambda request: Reply(200, {}))
    url = "json://" + server.url.removeprefix("http://") + "/hooks/alerts"
    return E2ECase(
        "other",
        "any",
        "*",
        {"title": "Disk", "body": "db at 91%, {$name}"},
        {"urls": [url]},
        arrived=lambda: (
            [(r.path, r.json["message"]) for r in server.requests]
            == [("/hooks/alerts", "db at 91%, Ada")]
        ),
    )
