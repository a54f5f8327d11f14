"""APNs talks HTTP/2 (http_request with http2=True): it obeys the egress policy too."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache

from channels_app.providers.apns.adapter import ApnsAdapter
from channels_app.providers.apns.fake import FakeAPNs, FakeH2Server
from channels_app.providers.base import OutboundMessage

TEAM, KEY_ID, BUNDLE = "TEAM123456", "KEY1234567", "com.example.app"


@pytest.fixture
def apns():
    cache.clear()
    key = ec.generate_private_key(ec.SECP256R1())
    fake = FakeAPNs(team_id=TEAM, key_id=KEY_ID, public_key=key.public_key(), bundle_id=BUNDLE)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    config = ApnsAdapter.validate_config(
        {"team_id": TEAM, "key_id": KEY_ID, "private_key": pem, "bundle_id": BUNDLE}
    )
    with FakeH2Server(fake) as server:
        yield server, config
    cache.clear()


def test_apns_refuses_loopback_and_connects_nowhere(apns, no_allowlist):
    server, config = apns
    message = OutboundMessage(
        id=1, message_id="m-1", receiver="a" * 64, content={"title": "t", "body": "b"}
    )
    port = server.url.rsplit(":", 1)[1]

    results = ApnsAdapter(config, base_url=f"http://2130706433:{port}").send([message, message])

    assert [r.error.code for r in results] == ["egress_denied", "egress_denied"]
    assert results[0].error.permanent
    assert "127.0.0.1" in results[0].error.reason
    assert server.connections == 0 and server.requests == []


def test_apns_connects_when_allowlisted(apns, settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.1"]
    server, config = apns
    message = OutboundMessage(
        id=1, message_id="m-1", receiver="a" * 64, content={"title": "t", "body": "b"}
    )

    [result] = ApnsAdapter(config, base_url=server.url).send([message])

    assert result.ok, result.error
    assert len(server.requests) == 1
