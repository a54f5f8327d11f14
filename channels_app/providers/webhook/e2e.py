"""The `webhook` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

import hashlib
import hmac
from contextlib import ExitStack

from channels_app.providers.e2e_case import E2ECase, http_fake
from channels_app.providers.fakes_http import Reply


def e2e_case(stack: ExitStack) -> E2ECase:
    server = http_fake(stack, lambda request: Reply(200, {"ok": True}))

    def arrived() -> bool:
        [request] = server.requests
        signed = request.headers["x-tidings-timestamp"].encode() + b"." + request.body
        expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
        return request.json["receiver"] == "u-1" and (
            request.headers["x-tidings-signature"] == expected
        )

    return E2ECase(
        "webhook",
        "user_id",
        "u-1",
        {"text": "hello {$name}"},
        {"url": "https://hooks.example.com/in", "secret": "s3cret"},
        base_url=server.url + "/in",
        arrived=arrived,
    )
