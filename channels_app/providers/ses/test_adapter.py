from __future__ import annotations

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.ses.adapter import SesAdapter
from channels_app.providers.ses.fake import FakeSes, ses_error

CONFIG = {
    "region": "eu-west-1",
    "access_key_id": "AKIAFAKEKEY0000TEST",
    "secret_access_key": "fake-secret-access-key-0000",
    "from_email": "Acme <news@acme.test>",
    "reply_to": "help@acme.test",
}


@pytest.fixture
def ses():
    fake = FakeSes()
    with FakeHTTPServer(fake) as server:
        fake.url = server.url
        yield fake, server


def _message(n: int = 1, receiver: str = "ann@example.com", **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"00000000-0000-0000-0000-00000000000{n}",
        receiver=receiver,
        content={"subject": "Hello", "text": "plain body", "html": "<p>html body</p>", **content},
        template_code="welcome",
    )


def _adapter(server: FakeHTTPServer, **overrides) -> SesAdapter:
    config = SesAdapter.validate_config({**CONFIG, **overrides})
    return SesAdapter(config, base_url=server.url)


def test_sends_signed_raw_email_and_returns_ses_message_id(ses):
    fake, server = ses

    results = _adapter(server).send([_message(1), _message(2, receiver="bob@example.com")])

    assert [r.ok for r in results] == [True, True]
    assert results[0].provider_message_id.startswith("0102")
    assert results[0].provider_message_id != results[1].provider_message_id
    first = fake.sent[0]
    assert first["params"]["Destination"] == {"ToAddresses": ["ann@example.com"]}
    # The credential scope names the configured key and region.
    auth = server.requests[0].headers["authorization"]
    assert "Credential=AKIAFAKEKEY0000TEST/" in auth
    assert "/eu-west-1/ses/aws4_request" in auth
    mime = first["mime"]
    assert mime["Subject"] == "Hello"
    assert mime["From"] == "Acme <news@acme.test>"
    assert mime["Reply-To"] == "help@acme.test"
    assert mime["X-Tidings-Message-Id"] == "00000000-0000-0000-0000-000000000001"
    assert "00000000-0000-0000-0000-000000000001" in mime["X-Metadata"]
    body = {p.get_content_type(): p.get_content() for p in mime.walk() if not p.is_multipart()}
    assert body["text/plain"].strip() == "plain body"
    assert body["text/html"].strip() == "<p>html body</p>"
    assert {"Name": "tidings_message_id", "Value": "00000000-0000-0000-0000-000000000001"} in first[
        "params"
    ]["EmailTags"]


def test_configuration_set_is_sent(ses):
    fake, server = ses

    [result] = _adapter(server, configuration_set="tidings-events").send([_message()])

    assert result.ok
    assert fake.sent[0]["params"]["ConfigurationSetName"] == "tidings-events"


def test_wrong_secret_fails_signature_check_permanently(ses):
    fake, server = ses

    [result] = _adapter(server, secret_access_key="another-secret-key-9999").send([_message()])

    assert result.error.permanent
    assert result.error.code == "SignatureDoesNotMatch"
    assert fake.sent == []


def test_wrong_region_is_refused(ses):
    fake, server = ses

    [result] = _adapter(server, region="us-east-1").send([_message()])

    assert result.error.permanent
    assert fake.sent == []


def test_unknown_access_key_is_permanent(ses):
    _, server = ses

    [result] = _adapter(server, access_key_id="AKIAOTHERKEY000TEST").send([_message()])

    assert result.error.permanent
    assert result.error.code == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("reply", "permanent", "rate_limited", "code"),
    [
        (
            ses_error(400, "MessageRejected", "Email address is not verified."),
            True,
            False,
            "MessageRejected",
        ),
        (
            ses_error(400, "MailFromDomainNotVerifiedException", "not verified"),
            True,
            False,
            "MailFromDomainNotVerifiedException",
        ),
        (
            ses_error(429, "TooManyRequestsException", "Maximum sending rate exceeded."),
            False,
            True,
            "TooManyRequestsException",
        ),
        (ses_error(400, "Throttling", "Rate exceeded"), False, True, "Throttling"),
        (ses_error(500, "InternalFailure", "oops"), False, False, "InternalFailure"),
        (ses_error(503, "ServiceUnavailable", "try later"), False, False, "ServiceUnavailable"),
    ],
)
def test_error_classification(ses, reply, permanent, rate_limited, code):
    fake, server = ses
    fake.fail_with = reply

    results = _adapter(server).send([_message(1), _message(2)])

    assert len(results) == 2
    for result in results:
        assert result.error.permanent is permanent
        assert result.error.rate_limited is rate_limited
        assert result.error.code == code
    # botocore's own retries are off: one call per message; after a rate limit the rest of
    # the batch is not called for (it would be refused the same way).
    assert len(server.requests) == (1 if rate_limited else 2)


def test_unreachable_endpoint_is_transient():
    with FakeHTTPServer() as server:
        url = server.url
    [result] = SesAdapter(SesAdapter.validate_config(CONFIG), base_url=url).send([_message()])

    assert not result.error.permanent
    assert result.error.code == "connection"


def test_attachment_from_private_url_is_refused_without_calling_ses(ses, settings):
    _, server = ses
    # The operator allowlists the (fake) SES endpoint only, not the rest of loopback.
    settings.TIDINGS_EGRESS_ALLOWLIST = [server.url.removeprefix("http://")]
    port = server.url.rsplit(":", 1)[1]

    [result] = _adapter(server).send(
        [_message(attachments=[{"url": f"http://[::1]:{port}/file.pdf", "filename": "report.pdf"}])]
    )

    assert result.error.permanent
    assert result.error.code == "egress_denied"
    assert "report.pdf" in result.error.reason
    assert server.requests == []


def test_attachment_is_in_the_raw_message(ses):
    fake, server = ses
    with FakeHTTPServer(
        lambda r: Reply(body=b"%PDF-1.4 fake", headers={"Content-Type": "application/pdf"})
    ) as files:
        [result] = _adapter(server).send(
            [_message(attachments=[{"url": f"{files.url}/r.pdf", "filename": "report.pdf"}])]
        )

    assert result.ok
    [part] = [p for p in fake.sent[0]["mime"].walk() if p.get_filename()]
    assert part.get_filename() == "report.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == b"%PDF-1.4 fake"


def test_config_requires_credentials_and_region():
    with pytest.raises(serializers.ValidationError) as info:
        SesAdapter.validate_config({"from_email": "news@acme.test", "region": "nowhere"})

    assert {"region", "access_key_id", "secret_access_key"} <= set(info.value.detail)


def test_from_email_must_be_an_address():
    with pytest.raises(serializers.ValidationError) as info:
        SesAdapter.validate_config({**CONFIG, "from_email": "Acme"})

    assert "from_email" in info.value.detail


def test_validate_content_names_fields():
    with pytest.raises(serializers.ValidationError) as info:
        SesAdapter.validate_content("email", {"attachments": [{"filename": "x"}]})

    assert set(info.value.detail) == {
        "content.subject",
        "content.text",
        "content.attachments[0].url",
    }
    SesAdapter.validate_content("email", {"subject": "s", "html": "<p>x</p>"})


def test_secret_fields_and_channel():
    assert SesAdapter.secret_fields == ("secret_access_key",)
    assert SesAdapter.channels == ("email",)
