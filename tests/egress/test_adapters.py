"""The clients that do not go through http_request obey the policy too: anymail's requests
sessions (the anymail email providers). APNs (HTTP/2 through http_request) and SES (boto3)
are tested in their folders (test_egress.py)."""

from __future__ import annotations

import pytest

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.mailgun.adapter import MailgunAdapter
from channels_app.providers.sendgrid.adapter import SendGridAdapter
from channels_app.providers.sendgrid.fake import FakeSendGrid

TEAM, KEY_ID, BUNDLE = "TEAM123456", "KEY1234567", "com.example.app"


def _email(n: int = 1) -> OutboundMessage:
    return OutboundMessage(
        id=n, message_id=f"m-{n}", receiver="ann@example.com", content={"subject": "s", "text": "t"}
    )


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
