from __future__ import annotations

import time

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.tencent_sms.adapter import TencentSmsAdapter, to_e164
from channels_app.providers.tencent_sms.fake import FakeTencentSms

CONTENT = {"template_id": "123456", "sign_name": "Acme", "params": ["code", "minutes"]}


def _config(fake: FakeTencentSms, **overrides) -> dict:
    return {
        "secret_id": fake.secret_id,
        "secret_key": fake.secret_key,
        "sms_sdk_app_id": fake.sms_sdk_app_id,
        "region": "ap-beijing",
        "sign_name": "",
        **overrides,
    }


def _message(n: int, receiver: str, content: dict | None = None, **variables) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"m-{n}",
        receiver=receiver,
        content=content or CONTENT,
        variables={"code": "1234", "minutes": 5, **variables},
    )


@pytest.fixture
def fake() -> FakeTencentSms:
    return FakeTencentSms()


def test_send_batches_numbers_and_orders_template_params(fake):
    with FakeHTTPServer(fake) as server:
        adapter = TencentSmsAdapter(_config(fake), base_url=server.url)
        messages = [
            _message(1, "13800000001"),
            _message(2, "+86 138-0000-0002"),
            _message(3, "008613800000003", code="9999"),
        ]

        results = adapter.send(messages)

    assert fake.rejections == []
    # Same parameters share one request, different ones get their own.
    assert [r.json["PhoneNumberSet"] for r in server.requests] == [
        ["+8613800000001", "+8613800000002"],
        ["+8613800000003"],
    ]
    first = server.requests[0]
    assert first.json["TemplateParamSet"] == ["1234", "5"]
    assert first.json["TemplateId"] == "123456"
    assert first.json["SignName"] == "Acme"
    assert first.json["SmsSdkAppId"] == fake.sms_sdk_app_id
    assert first.headers["x-tc-action"] == "SendSms"
    assert first.headers["x-tc-version"] == "2021-01-11"
    assert first.headers["x-tc-region"] == "ap-beijing"
    assert server.requests[1].json["TemplateParamSet"] == ["9999", "5"]
    assert all(r.ok for r in results)
    assert [r.provider_message_id for r in results] == [a["serial"] for a in fake.accepted[:2]] + [
        fake.accepted[2]["serial"]
    ]
    assert all(r.provider_message_id for r in results)


def test_config_sign_name_is_the_default(fake):
    content = {"template_id": "123456", "params": ["code"]}
    with FakeHTTPServer(fake) as server:
        adapter = TencentSmsAdapter(_config(fake, sign_name="Default Co"), base_url=server.url)
        [result] = adapter.send([_message(1, "13800000001", content)])
    assert result.ok
    assert server.requests[0].json["SignName"] == "Default Co"
    assert server.requests[0].json["TemplateParamSet"] == ["1234"]


def test_at_most_200_numbers_per_request_and_no_mixed_regions(fake):
    messages = [_message(i, f"138{i:08d}") for i in range(230)]
    messages.append(_message(999, "+14155550100"))
    with FakeHTTPServer(fake) as server:
        results = TencentSmsAdapter(_config(fake), base_url=server.url).send(messages)

    assert fake.rejections == []
    assert [len(r.json["PhoneNumberSet"]) for r in server.requests] == [200, 30, 1]
    assert all(r.ok for r in results)
    assert len({r.provider_message_id for r in results}) == 231


def test_per_number_failures_in_a_batch(fake):
    fake.number_codes = {
        "+8613800000002": ("LimitExceeded.PhoneNumberThirtySecondLimit", "30s limit"),
        "+8613800000003": ("FailedOperation.PhoneNumberInBlacklist", "number in blacklist"),
    }
    with FakeHTTPServer(fake) as server:
        adapter = TencentSmsAdapter(_config(fake), base_url=server.url)
        ok, limited, blocked = adapter.send([_message(i, f"1380000000{i}") for i in (1, 2, 3)])

    assert len(server.requests) == 1
    assert ok.ok
    assert ok.provider_message_id == fake.accepted[0]["serial"]
    assert limited.error.rate_limited
    assert not limited.error.permanent
    assert limited.error.code == "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert limited.error.retry_after == 30.0
    assert blocked.error.permanent
    assert blocked.error.code == "FailedOperation.PhoneNumberInBlacklist"
    assert "number in blacklist" in blocked.error.reason


def test_wrong_secret_key_fails_the_signature_check(fake):
    with FakeHTTPServer(fake) as server:
        adapter = TencentSmsAdapter(_config(fake, secret_key="not-the-key"), base_url=server.url)
        [result] = adapter.send([_message(1, "13800000001")])
    assert fake.rejections == ["AuthFailure.SignatureFailure"]
    assert result.error.permanent
    assert result.error.code == "AuthFailure.SignatureFailure"
    assert "not-the-key" not in str(result.error)


def test_unknown_secret_id_is_permanent(fake):
    with FakeHTTPServer(fake) as server:
        adapter = TencentSmsAdapter(_config(fake, secret_id="AKIDunknown"), base_url=server.url)
        [result] = adapter.send([_message(1, "13800000001")])
    assert result.error.permanent
    assert result.error.code == "AuthFailure.SecretIdNotFound"


def test_request_limit_is_rate_limited_for_every_message(fake):
    fake.request_error = ("RequestLimitExceeded", "Request limit exceeded.")
    with FakeHTTPServer(fake) as server:
        adapter = TencentSmsAdapter(_config(fake), base_url=server.url)
        results = adapter.send([_message(1, "13800000001"), _message(2, "13800000002", code="2")])
    # The second group is not tried while the account is throttled.
    assert len(server.requests) == 1
    assert [r.error.rate_limited for r in results] == [True, True]
    assert {r.error.code for r in results} == {"RequestLimitExceeded"}


def test_internal_error_is_transient(fake):
    fake.request_error = ("InternalError.Timeout", "carrier timed out")
    with FakeHTTPServer(fake) as server:
        [result] = TencentSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert not result.error.rate_limited
    assert result.error.code == "InternalError.Timeout"


def test_server_error_is_transient(fake):
    with FakeHTTPServer(lambda request: Reply(status=502, body=b"bad gateway")) as server:
        [result] = TencentSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert result.error.code == "502"


def test_server_error_with_a_tencent_error_body_keeps_its_code(fake):
    body = {"Response": {"Error": {"Code": "InternalError", "Message": "busy"}, "RequestId": "r"}}
    with FakeHTTPServer(lambda request: Reply(status=500, body=body)) as server:
        [result] = TencentSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert result.error.code == "InternalError"


def test_timeout_is_transient(fake, settings):
    def slow(request):
        time.sleep(settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS + 0.5)
        return fake(request)

    with FakeHTTPServer(slow) as server:
        [result] = TencentSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert result.error.code == "timeout"


def test_bad_receiver_and_missing_variable_fail_without_a_request(fake):
    with FakeHTTPServer(fake) as server:
        adapter = TencentSmsAdapter(_config(fake), base_url=server.url)
        missing = OutboundMessage(
            id=2, message_id="m-2", receiver="13800000002", content=CONTENT, variables={"code": "1"}
        )
        bad, no_var = adapter.send([_message(1, "not-a-phone"), missing])
    assert server.requests == []
    assert bad.error.permanent
    assert bad.error.code == "invalid_receiver"
    assert no_var.error.permanent
    assert no_var.error.code == "missing_variable"
    assert "minutes" in no_var.error.reason


def test_to_e164():
    assert to_e164("13800000000") == "+8613800000000"
    assert to_e164("8613800000000") == "+8613800000000"
    assert to_e164("0044 20 7946 0000") == "+442079460000"
    assert to_e164("+14155550100") == "+14155550100"
    assert to_e164("12345") is None
    assert to_e164("") is None


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        TencentSmsAdapter.validate_config(
            {"secret_id": "nope", "sms_sdk_app_id": "abc", "region": "mars-1"}
        )
    assert set(excinfo.value.detail) == {"secret_id", "secret_key", "sms_sdk_app_id", "region"}

    config = TencentSmsAdapter.validate_config(
        {"secret_id": "AKIDabc", "secret_key": "k", "sms_sdk_app_id": "1400006666"}
    )
    assert config["region"] == "ap-guangzhou"
    assert TencentSmsAdapter.secret_fields == ("secret_key",)


def test_content_validation():
    TencentSmsAdapter.validate_content("sms", CONTENT)
    TencentSmsAdapter.validate_content("sms", {"template_id": 123456})
    with pytest.raises(serializers.ValidationError) as excinfo:
        TencentSmsAdapter.validate_content("sms", {"text": "Your code is {$code}"})
    assert "content.template_id" in excinfo.value.detail
    with pytest.raises(serializers.ValidationError) as excinfo:
        TencentSmsAdapter.validate_content(
            "sms", {"template_id": "1", "params": "code", "sign_name": 3}
        )
    assert set(excinfo.value.detail) == {"content.params", "content.sign_name"}
