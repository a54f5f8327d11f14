"""The `fcm` end-to-end case: its local fake, an account and a template against it."""

from __future__ import annotations

from contextlib import ExitStack

from cryptography.hazmat.primitives.asymmetric import rsa

from channels_app.providers.e2e_case import PUSH, E2ECase, http_fake, pem
from channels_app.providers.fcm.fake import FakeFCM


def e2e_case(stack: ExitStack) -> E2ECase:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "firebase-adminsdk@tidings-e2e.iam.gserviceaccount.com"
    fake = FakeFCM(project_id="tidings-e2e", client_email=email, public_key=key.public_key())
    server = http_fake(stack, fake)
    fake.token_uri = f"{server.url}/token"
    config = {
        "project_id": "tidings-e2e",
        "client_email": email,
        "private_key": pem(key),
        "token_uri": f"{server.url}/token",
    }
    device = "dGVzdC1kZXZpY2UtdG9rZW4tMDAwMQ:APA91bHun4MxP5egoKMwt2KZFBaFUH"
    return E2ECase(
        "push",
        "device_token",
        device,
        PUSH,
        config,
        server.url,
        lambda: [s["token"] for s in fake.sent] == [device],
    )
