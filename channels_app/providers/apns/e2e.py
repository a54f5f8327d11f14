"""The `apns` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from cryptography.hazmat.primitives.asymmetric import ec

from channels_app.providers.apns.fake import FakeAPNs, FakeH2Server
from channels_app.providers.e2e_case import PUSH, E2ECase, pem


def e2e_case(stack: ExitStack) -> E2ECase:
    key = ec.generate_private_key(ec.SECP256R1())
    fake = FakeAPNs(
        team_id="TEAM123456",
        key_id="KEY1234567",
        public_key=key.public_key(),
        bundle_id="com.example.app",
    )
    server = stack.enter_context(FakeH2Server(fake))
    config = {
        "team_id": fake.team_id,
        "key_id": fake.key_id,
        "private_key": pem(key),
        "bundle_id": fake.bundle_id,
    }
    return E2ECase(
        "push",
        "device_token",
        "b" * 64,
        PUSH,
        config,
        server.url,
        lambda: (
            [(s["device"], s["payload"]["aps"]["alert"]["title"]) for s in fake.sent]
            == [("b" * 64, "Order shipped")]
        ),
    )
