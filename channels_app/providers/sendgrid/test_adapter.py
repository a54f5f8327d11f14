from __future__ import annotations

import base64

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.sendgrid.adapter import SendGridAdapter
from channels_app.providers.sendgrid.fake import FakeSendGrid

CONFIG = {"api_key": "SG.test-key.secret-part", "from_email": "Acme <news@acme.test>"}


@pytest.fixture
def sendgrid():
    fake = FakeSendGrid()
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


def _adapter(server: FakeHTTPServer, **overrides) -> SendGridAdapter:
    config = SendGridAdapter.validate_config({**CONFIG, **overrides})
    return SendGridAdapter(config, base_url=server.url + "/v3")


def test_posts_mail_send_and_returns_anymail_id(sendgrid):
    fake, server = sendgrid

    results = _adapter(server, reply_to="help@acme.test").send(
        [_message(1), _message(2, receiver="bob@example.com")]
    )

    assert [r.ok for r in results] == [True, True]
    assert len(fake.sent) == 2
    payload = fake.sent[0]
    assert server.requests[0].headers["authorization"] == "Bearer SG.test-key.secret-part"
    assert payload["from"] == {"email": "news@acme.test", "name": "Acme"}
    assert payload["reply_to_list"] == [{"email": "help@acme.test"}]
    assert payload["subject"] == "Hello"
    assert payload["content"] == [
        {"type": "text/plain", "value": "plain body"},
        {"type": "text/html", "value": "<p>html body</p>"},
    ]
    [personalization] = payload["personalizations"]
    assert personalization["to"] == [{"email": "ann@example.com"}]
    assert payload["headers"]["X-Tidings-Message-Id"] == "msg-1"
    assert payload["custom_args"]["tidings_message_id"] == "msg-1"
    assert payload["categories"] == ["welcome"]
    # The provider id is the anymail_id SendGrid echoes in its event webhook.
    assert results[0].provider_message_id == personalization["custom_args"]["anymail_id"]
    assert results[0].provider_message_id != results[1].provider_message_id


def test_default_base_url_is_sendgrid_v3():
    adapter = SendGridAdapter(SendGridAdapter.validate_config(CONFIG))

    assert adapter.connection_kwargs()["api_url"] == "https://api.sendgrid.com/v3/"


def test_wrong_key_is_permanent(sendgrid):
    fake, server = sendgrid

    [result] = _adapter(server, api_key="SG.other.key").send([_message()])

    assert result.error.permanent
    assert result.error.code == "401"
    assert "SG.other.key" not in str(result.error)
    assert fake.sent == []


def test_html_only_message_is_accepted(sendgrid):
    fake, server = sendgrid

    [result] = _adapter(server).send([_message(text="")])

    assert result.ok
    assert fake.sent[0]["content"] == [{"type": "text/html", "value": "<p>html body</p>"}]


@pytest.mark.parametrize(
    ("reply", "permanent", "rate_limited", "code"),
    [
        (Reply(status=403, body={"errors": [{"message": "access forbidden"}]}), True, False, "403"),
        (Reply(status=400, body={"errors": [{"message": "bad"}]}), True, False, "400"),
        (
            Reply(
                status=429,
                body={"errors": [{"message": "too many"}]},
                headers={"Retry-After": "12"},
            ),
            False,
            True,
            "429",
        ),
        (Reply(status=500, body={"errors": [{"message": "boom"}]}), False, False, "500"),
        (Reply(status=503, body=b"unavailable"), False, False, "503"),
    ],
)
def test_error_classification(sendgrid, reply, permanent, rate_limited, code):
    fake, server = sendgrid
    fake.fail_with = reply

    results = _adapter(server).send([_message(1), _message(2)])

    assert len(results) == 2
    for result in results:
        assert result.error.permanent is permanent
        assert result.error.rate_limited is rate_limited
        assert result.error.code == code
    if code == "429":
        assert results[0].error.retry_after == 12.0


def test_timeout_is_transient(settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3
    fake = FakeSendGrid()

    def slow(request):
        import time

        time.sleep(1)
        return fake(request)

    with FakeHTTPServer(slow) as server:
        [result] = _adapter(server).send([_message()])

    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_unreachable_is_transient():
    with FakeHTTPServer() as server:
        url = server.url
    adapter = SendGridAdapter(SendGridAdapter.validate_config(CONFIG), base_url=url + "/v3")

    [result] = adapter.send([_message()])

    assert result.error.code == "connection"
    assert not result.error.permanent


def test_attachment_is_fetched_once_per_batch_and_sent(sendgrid):
    fake, server = sendgrid
    attachments = [{"url": "/invoice.txt", "filename": "invoice.txt"}]
    with FakeHTTPServer(
        lambda r: Reply(body=b"total: 42", headers={"Content-Type": "text/plain; charset=utf-8"})
    ) as files:
        attachments[0]["url"] = files.url + "/invoice.txt"
        # the delivery loop: one `with` per batch, one message per send() call
        adapter = _adapter(server)
        assert adapter.batch_size == 1
        with adapter:
            results = [
                *adapter.send([_message(1, attachments=attachments)]),
                *adapter.send([_message(2, attachments=attachments)]),
            ]

    assert [r.ok for r in results] == [True, True]
    assert len(files.requests) == 1
    [attachment] = fake.sent[1]["attachments"]
    assert attachment["filename"] == "invoice.txt"
    assert attachment["type"].startswith("text/plain")
    assert base64.b64decode(attachment["content"]) == b"total: 42"


def test_failed_attachment_fails_only_its_message(sendgrid):
    fake, server = sendgrid
    with FakeHTTPServer(lambda r: Reply(status=404, body=b"gone")) as files:
        results = _adapter(server).send(
            [_message(1, attachments=[{"url": files.url + "/x.pdf"}]), _message(2)]
        )

    assert results[0].error.permanent
    assert results[0].error.code == "attachment"
    assert "x.pdf" in results[0].error.reason
    assert results[1].ok
    assert len(fake.sent) == 1


def test_config_validates_key_shape():
    with pytest.raises(serializers.ValidationError) as info:
        SendGridAdapter.validate_config({"api_key": "not-a-key", "from_email": "a@b.test"})

    assert "api_key" in info.value.detail
    assert SendGridAdapter.secret_fields == ("api_key",)


def test_validate_content_checks_attachment_shape():
    with pytest.raises(serializers.ValidationError) as info:
        SendGridAdapter.validate_content(
            "email", {"subject": "s", "text": "t", "attachments": [{"url": "ftp://x/y"}, "nope"]}
        )

    assert set(info.value.detail) == {"content.attachments[0].url", "content.attachments[1]"}
    SendGridAdapter.validate_content(
        "email", {"subject": "s", "text": "t", "attachments": [{"url": "{$invoice_url}"}]}
    )
