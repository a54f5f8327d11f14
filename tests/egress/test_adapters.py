"""The clients that do not go through http_request obey the policy too: APNs (httpx HTTP/2),
anymail's requests sessions (SendGrid, Mailgun), SES (boto3) and its endpoint."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache

from channels_app.providers.apns.adapter import ApnsAdapter
from channels_app.providers.apns.fake import FakeAPNs, FakeH2Server
from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.mailgun.adapter import MailgunAdapter
from channels_app.providers.sendgrid.adapter import SendGridAdapter
from channels_app.providers.sendgrid.fake import FakeSendGrid
from channels_app.providers.ses.adapter import SesAdapter

TEAM, KEY_ID, BUNDLE = "TEAM123456", "KEY1234567", "com.example.app"


def _email(n: int = 1) -> OutboundMessage:
    return OutboundMessage(
        id=n, message_id=f"m-{n}", receiver="ann@example.com", content={"subject": "s", "text": "t"}
    )


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


@pytest.mark.parametrize(
    ("adapter", "config", "path"),
    [
        (SendGridAdapter, {"api_key": "SG.k.s", "from_email": "a@acme.test"}, "/v3"),
        (MailgunAdapter, {"api_key": "key-12345678", "from_email": "a@acme.test"}, "/v3"),
    ],
)
def test_anymail_sessions_refuse_loopback(no_allowlist, adapter, config, path):
    with FakeHTTPServer(FakeSendGrid()) as server:
        [result] = adapter(adapter.validate_config(config), base_url=server.url + path).send(
            [_email()]
        )

    assert result.error.code == "egress_denied"
    assert result.error.permanent
    assert server.requests == []


def test_anymail_sessions_recheck_every_redirect_hop(settings):
    with FakeHTTPServer() as catcher:
        with FakeHTTPServer(
            lambda r: Reply(status=307, body=b"", headers={"Location": f"{catcher.url}/v3/x"})
        ) as outside:
            settings.TIDINGS_EGRESS_ALLOWLIST = [outside.url.removeprefix("http://")]
            config = SendGridAdapter.validate_config(
                {"api_key": "SG.k.s", "from_email": "a@acme.test"}
            )
            [result] = SendGridAdapter(config, base_url=outside.url + "/v3").send([_email()])

    assert result.error.code == "egress_denied"
    assert len(outside.requests) == 1
    assert catcher.requests == []


def test_ses_endpoint_is_checked_before_boto3_connects(no_allowlist):
    config = SesAdapter.validate_config(
        {
            "region": "us-east-1",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "x" * 40,
            "from_email": "a@acme.test",
        }
    )
    with FakeHTTPServer() as server:
        with pytest.raises(DeliveryError) as info:
            SesAdapter(config, base_url=server.url).send([_email()])

    assert info.value.code == "egress_denied"
    assert info.value.permanent
    assert server.requests == []
