from __future__ import annotations

import base64
import time
from urllib.parse import parse_qsl

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.twilio_sms.adapter import TwilioSmsAdapter, to_e164
from channels_app.providers.twilio_sms.fake import FakeTwilioSms


def _config(fake: FakeTwilioSms, **overrides) -> dict:
    return {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "from_number": "+15005550006",
        **overrides,
    }


def _message(n: int, receiver: str, text: str = "Your code is 1234") -> OutboundMessage:
    return OutboundMessage(id=n, message_id=f"m-{n}", receiver=receiver, content={"text": text})


@pytest.fixture
def fake() -> FakeTwilioSms:
    return FakeTwilioSms()


def test_one_call_per_message_with_basic_auth(fake):
    with FakeHTTPServer(fake) as server:
        adapter = TwilioSmsAdapter(_config(fake), base_url=server.url)
        results = adapter.send(
            [_message(1, "+14155550100"), _message(2, "+44 7700 900123", "Hi & bye")]
        )

    assert fake.rejections == []
    first, second = server.requests
    assert first.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    expected_auth = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
    assert first.headers["authorization"] == f"Basic {expected_auth}"
    assert dict(parse_qsl(first.body.decode())) == {
        "To": "+14155550100",
        "Body": "Your code is 1234",
        "From": "+15005550006",
    }
    assert dict(parse_qsl(second.body.decode()))["Body"] == "Hi & bye"
    assert [r.provider_message_id for r in results] == [a["sid"] for a in fake.accepted]
    assert all(r.provider_message_id.startswith("SM") for r in results)


def test_messaging_service_replaces_from(fake):
    service = "MG" + "a" * 32
    with FakeHTTPServer(fake) as server:
        adapter = TwilioSmsAdapter(
            _config(fake, messaging_service_sid=service), base_url=server.url
        )
        [result] = adapter.send([_message(1, "+14155550100")])
    assert result.ok
    form = dict(parse_qsl(server.requests[0].body.decode()))
    assert form["MessagingServiceSid"] == service
    assert "From" not in form


def test_default_country_code_completes_bare_numbers(fake):
    with FakeHTTPServer(fake) as server:
        adapter = TwilioSmsAdapter(_config(fake, default_country_code="86"), base_url=server.url)
        [result] = adapter.send([_message(1, "138 0000 0000")])
    assert result.ok
    assert fake.accepted[0]["To"] == "+8613800000000"


def test_per_number_failure_does_not_stop_the_others(fake):
    fake.number_errors = {"+14155550101": (400, 21610, "Attempt to send to unsubscribed recipient")}
    with FakeHTTPServer(fake) as server:
        first, unsubscribed, third = TwilioSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(i, f"+1415555010{i - 1}") for i in (1, 2, 3)]
        )
    assert len(server.requests) == 3
    assert first.ok
    assert third.ok
    assert unsubscribed.error.permanent
    assert unsubscribed.error.code == "21610"
    assert "unsubscribed" in unsubscribed.error.reason


def test_bad_credentials_are_permanent(fake):
    with FakeHTTPServer(fake) as server:
        adapter = TwilioSmsAdapter(_config(fake, auth_token="wrong-token"), base_url=server.url)
        [result] = adapter.send([_message(1, "+14155550100")])
    assert fake.rejections == [20003]
    assert result.error.permanent
    assert result.error.code == "20003"
    assert "wrong-token" not in str(result.error)


def test_rate_limit_is_rate_limited_and_stops_the_batch(fake):
    fake.throttled = True
    with FakeHTTPServer(fake) as server:
        results = TwilioSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "+14155550100"), _message(2, "+14155550101")]
        )
    assert len(server.requests) == 1
    assert all(r.error.rate_limited and r.error.code == "20429" for r in results)
    assert results[0].error.retry_after == 3.0


def test_server_error_is_transient(fake):
    reply = Reply(status=503, body={"code": 20503, "message": "Service unavailable", "status": 503})
    with FakeHTTPServer(lambda request: reply) as server:
        [result] = TwilioSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "+14155550100")]
        )
    assert not result.error.permanent
    assert result.error.code == "20503"

    with FakeHTTPServer(lambda request: Reply(status=502, body=b"Bad Gateway")) as server:
        [result] = TwilioSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "+14155550100")]
        )
    assert not result.error.permanent
    assert result.error.code == "502"


def test_timeout_is_transient(fake, settings):
    def slow(request):
        time.sleep(settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS + 0.5)
        return fake(request)

    with FakeHTTPServer(slow) as server:
        [result] = TwilioSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "+14155550100")]
        )
    assert not result.error.permanent
    assert result.error.code == "timeout"


def test_invalid_receiver_fails_without_a_call(fake):
    with FakeHTTPServer(fake) as server:
        [result] = TwilioSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000000")]
        )
    assert server.requests == []
    assert result.error.permanent
    assert result.error.code == "invalid_receiver"


def test_to_e164():
    assert to_e164("+1 (415) 555-0100") == "+14155550100"
    assert to_e164("0044 7700 900123") == "+447700900123"
    assert to_e164("07700900123", "44") == "+447700900123"
    assert to_e164("4155550100") is None


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        TwilioSmsAdapter.validate_config({"account_sid": "ACnope", "auth_token": "t"})
    assert "account_sid" in excinfo.value.detail
    with pytest.raises(serializers.ValidationError) as excinfo:
        TwilioSmsAdapter.validate_config({"account_sid": "AC" + "1" * 32, "auth_token": "t"})
    assert "from_number" in excinfo.value.detail
    config = TwilioSmsAdapter.validate_config(
        {"account_sid": "AC" + "1" * 32, "auth_token": "t", "from_number": "Acme"}
    )
    assert config["from_number"] == "Acme"
    assert TwilioSmsAdapter.secret_fields == ("auth_token",)


def test_content_validation():
    TwilioSmsAdapter.validate_content("sms", {"text": "Hello {$name}"})
    with pytest.raises(serializers.ValidationError) as excinfo:
        TwilioSmsAdapter.validate_content("sms", {"template_id": "1"})
    assert "content.text" in excinfo.value.detail
    with pytest.raises(serializers.ValidationError) as excinfo:
        TwilioSmsAdapter.validate_content("sms", {"text": "x" * 1601})
    assert "content.text" in excinfo.value.detail
