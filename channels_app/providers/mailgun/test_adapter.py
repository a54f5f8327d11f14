from __future__ import annotations

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.mailgun.adapter import MailgunAdapter
from channels_app.providers.mailgun.fake import FakeMailgun

CONFIG = {"api_key": "key-test-123456", "from_email": "Acme <news@mg.acme.test>"}


@pytest.fixture
def mailgun():
    fake = FakeMailgun()
    with FakeHTTPServer(fake) as server:
        yield fake, server


def _message(n: int = 1, receiver: str = "ann@example.com", **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"msg-{n}",
        receiver=receiver,
        content={"subject": "Hello", "text": "plain body", "html": "<p>html body</p>", **content},
        template_code="welcome",
    )


def _adapter(server: FakeHTTPServer, **overrides) -> MailgunAdapter:
    config = MailgunAdapter.validate_config({**CONFIG, **overrides})
    return MailgunAdapter(config, base_url=server.url + "/v3")


def test_posts_form_to_domain_and_returns_mailgun_id(mailgun):
    fake, server = mailgun

    results = _adapter(server, reply_to="help@acme.test").send(
        [_message(1), _message(2, receiver="bob@example.com")]
    )

    assert [r.ok for r in results] == [True, True]
    assert server.requests[0].path == "/v3/mg.acme.test/messages"
    fields = fake.sent[0]
    assert fields["from"] == ["Acme <news@mg.acme.test>"]
    assert fields["to"] == ["ann@example.com"]
    assert fields["subject"] == ["Hello"]
    assert fields["text"] == ["plain body"]
    assert fields["html"] == ["<p>html body</p>"]
    assert fields["h:Reply-To"] == ["help@acme.test"]
    assert fields["h:X-Tidings-Message-Id"] == ["msg-1"]
    assert fields["v:tidings_message_id"] == ["msg-1"]
    assert fields["o:tag"] == ["welcome"]
    assert results[0].provider_message_id.endswith("@mg.acme.test>")
    assert results[0].provider_message_id != results[1].provider_message_id


def test_sender_domain_overrides_from_domain(mailgun):
    fake, server = mailgun
    fake.domain = "mail.acme.test"

    [result] = _adapter(server, sender_domain="mail.acme.test").send([_message()])

    assert result.ok
    assert server.requests[0].path == "/v3/mail.acme.test/messages"


def test_unknown_domain_is_permanent(mailgun):
    _, server = mailgun

    [result] = _adapter(server, sender_domain="other.test").send([_message()])

    assert result.error.permanent
    assert result.error.code == "404"


def test_wrong_key_is_permanent(mailgun):
    fake, server = mailgun

    [result] = _adapter(server, api_key="key-wrong-000000").send([_message()])

    assert result.error.permanent
    assert result.error.code == "401"
    assert "key-wrong-000000" not in str(result.error)
    assert fake.sent == []


@pytest.mark.parametrize(
    ("reply", "permanent", "rate_limited", "code"),
    [
        (
            Reply(status=400, body={"message": "to parameter is not a valid address"}),
            True,
            False,
            "400",
        ),
        (Reply(status=403, body={"message": "Domain disabled"}), True, False, "403"),
        (Reply(status=429, body={"message": "Too many requests"}), False, True, "429"),
        (Reply(status=500, body={"message": "Internal error"}), False, False, "500"),
        (
            Reply(status=200, body={"id": "<x@y>", "message": "Not queued"}),
            False,
            False,
            "bad_response",
        ),
    ],
)
def test_error_classification(mailgun, reply, permanent, rate_limited, code):
    fake, server = mailgun
    fake.fail_with = reply

    results = _adapter(server).send([_message(1), _message(2)])

    assert len(results) == 2
    for result in results:
        assert result.error.permanent is permanent
        assert result.error.rate_limited is rate_limited
        assert result.error.code == code


def test_attachment_is_sent_as_multipart_file(mailgun):
    fake, server = mailgun
    with FakeHTTPServer(
        lambda r: Reply(body=b"\x89PNG fake", headers={"Content-Type": "image/png"})
    ) as files:
        [result] = _adapter(server).send([_message(attachments=[{"url": files.url + "/logo.png"}])])

    assert result.ok
    assert fake.sent[0]["attachment"] == [("logo.png", b"\x89PNG fake", "image/png")]
    assert fake.sent[0]["subject"] == ["Hello"]


def test_default_base_url_and_config_validation():
    adapter = MailgunAdapter(MailgunAdapter.validate_config(CONFIG))
    assert adapter.connection_kwargs()["api_url"] == "https://api.mailgun.net/v3/"
    assert MailgunAdapter.secret_fields == ("api_key",)

    with pytest.raises(serializers.ValidationError) as info:
        MailgunAdapter.validate_config({"from_email": "a@b.test", "sender_domain": "no/slash"})
    assert {"api_key", "sender_domain"} <= set(info.value.detail)
