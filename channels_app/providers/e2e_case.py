"""What a provider's `e2e.py` gives the end-to-end test that runs every registered provider
(tests/e2e/test_channels.py): `e2e_case(stack) -> E2ECase` starts the provider's local fake
on `stack` and says which account config, base URL, template content and receiver to send
with, and how to see that the fake received the message (with variables name=Ada, code=42,
minutes=5)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization

from channels_app.providers.fakes_http import FakeHTTPServer, Responder

EMAIL = {"subject": "Hi {$name}", "text": "Hello {$name}", "html": "<p>Hello {$name}</p>"}
PUSH = {"title": "Order shipped", "body": "Hi {$name}, it is on its way"}


@dataclass
class E2ECase:
    channel: str
    receiver_type: str
    receiver: str
    content: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    base_url: str = ""
    # True once the fake recorded the accepted send for `receiver`.
    arrived: Callable[[], bool] = lambda: True


def http_fake(stack: ExitStack, responder: Responder) -> FakeHTTPServer:
    return stack.enter_context(FakeHTTPServer(responder))


def pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
