from __future__ import annotations

import time
from urllib.parse import parse_qsl

import pytest
from rest_framework import serializers

from channels_app.providers.aliyun_sms.adapter import (
    AliyunSmsAdapter,
    percent_encode,
    rpc_signature,
    to_aliyun_number,
)
from channels_app.providers.aliyun_sms.fake import FakeAliyunSms
from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply

CONTENT = {"template_code": "SMS_123456789", "sign_name": "阿里云短信测试", "params": ["code"]}


def _config(fake: FakeAliyunSms, **overrides) -> dict:
    return {
        "access_key_id": fake.access_key_id,
        "access_key_secret": fake.access_key_secret,
        "sign_name": "",
        **overrides,
    }


def _message(n: int, receiver: str, content: dict | None = None, **variables) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"m-{n}",
        receiver=receiver,
        content=content or CONTENT,
        variables={"code": "1234", **variables},
    )


def _form(request) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode()))


@pytest.fixture
def fake() -> FakeAliyunSms:
    return FakeAliyunSms()


def test_identical_params_share_one_call_and_bizid(fake):
    with FakeHTTPServer(fake) as server:
        adapter = AliyunSmsAdapter(_config(fake), base_url=server.url)
        results = adapter.send(
            [
                _message(1, "13800000001"),
                _message(2, "+86 138 0000 0002"),
                _message(3, "13800000003", code="9 9*9~"),
            ]
        )

    assert fake.rejections == []
    forms = [_form(r) for r in server.requests]
    assert [f["PhoneNumbers"] for f in forms] == ["13800000001,13800000002", "13800000003"]
    assert forms[0]["TemplateParam"] == '{"code": "1234"}'
    assert forms[0]["SignName"] == "阿里云短信测试"
    assert forms[0]["TemplateCode"] == "SMS_123456789"
    assert "OutId" not in forms[0]
    # A single-number call carries the message id, echoed in receipts.
    assert forms[1]["OutId"] == "m-3"
    # Characters that percent-encode specially still verify.
    assert fake.accepted[2]["template_param"] == {"code": "9 9*9~"}
    assert (
        results[0].provider_message_id
        == results[1].provider_message_id
        == fake.accepted[0]["biz_id"]
    )
    assert results[2].provider_message_id == fake.accepted[2]["biz_id"]
    assert results[0].provider_message_id != results[2].provider_message_id


def test_params_default_to_all_variables_and_config_sign_name(fake):
    content = {"template_code": "SMS_1"}
    with FakeHTTPServer(fake) as server:
        adapter = AliyunSmsAdapter(_config(fake, sign_name="Acme"), base_url=server.url)
        [result] = adapter.send([_message(1, "13800000001", content, name="Li")])
    assert result.ok
    assert fake.accepted[0]["template_param"] == {"code": "1234", "name": "Li"}
    assert fake.accepted[0]["sign_name"] == "Acme"


def test_international_numbers_go_one_per_call(fake):
    with FakeHTTPServer(fake) as server:
        results = AliyunSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "+85212345678"), _message(2, "0085212345679"), _message(3, "13800000001")]
        )
    assert all(r.ok for r in results)
    assert sorted(_form(r)["PhoneNumbers"] for r in server.requests) == [
        "13800000001",
        "85212345678",
        "85212345679",
    ]


def test_signature_matches_the_documented_example():
    # Alibaba Cloud's V1 signature document's worked example (DescribeRegions, secret "testsecret").
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert rpc_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"


def test_per_number_failure_in_a_batch_is_isolated(fake):
    fake.number_codes = {
        "13800000002": ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
        "13800000003": ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"),
    }
    with FakeHTTPServer(fake) as server:
        ok, limited, illegal = AliyunSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(i, f"1380000000{i}") for i in (1, 2, 3)]
        )
    # The batch call failed as a whole, then each number went on its own.
    assert [_form(r)["PhoneNumbers"] for r in server.requests] == [
        "13800000001,13800000002,13800000003",
        "13800000001",
        "13800000002",
        "13800000003",
    ]
    assert ok.ok
    assert ok.provider_message_id == fake.accepted[0]["biz_id"]
    assert limited.error.rate_limited
    assert limited.error.retry_after == 60.0
    assert limited.error.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert illegal.error.permanent
    assert illegal.error.code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert "非法手机号" in illegal.error.reason


def test_wrong_secret_is_a_permanent_signature_error(fake):
    with FakeHTTPServer(fake) as server:
        adapter = AliyunSmsAdapter(
            _config(fake, access_key_secret="wrong-secret"), base_url=server.url
        )
        [result] = adapter.send([_message(1, "13800000001")])
    assert fake.rejections == ["SignatureDoesNotMatch"]
    assert result.error.permanent
    assert result.error.code == "SignatureDoesNotMatch"
    assert "wrong-secret" not in str(result.error)


def test_unknown_access_key_is_permanent(fake):
    with FakeHTTPServer(fake) as server:
        adapter = AliyunSmsAdapter(
            _config(fake, access_key_id="LTAIunknown00"), base_url=server.url
        )
        [result] = adapter.send([_message(1, "13800000001")])
    assert result.error.permanent
    assert result.error.code == "InvalidAccessKeyId.NotFound"


def test_throttled_account_stops_the_batch(fake):
    fake.request_error = ("Throttling.User", "Request was denied due to user flow control.")
    with FakeHTTPServer(fake) as server:
        results = AliyunSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001"), _message(2, "13800000002", code="2")]
        )
    assert len(server.requests) == 1
    assert all(r.error.rate_limited for r in results)


def test_system_error_is_transient(fake):
    fake.request_error = ("isp.SYSTEM_ERROR", "系统错误")
    with FakeHTTPServer(fake) as server:
        [result] = AliyunSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert not result.error.rate_limited
    assert result.error.code == "isp.SYSTEM_ERROR"


def test_server_error_is_transient(fake):
    reply = Reply(status=503, body={"Code": "ServiceUnavailable", "Message": "busy"})
    with FakeHTTPServer(lambda request: reply) as server:
        [result] = AliyunSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert result.error.code == "ServiceUnavailable"

    with FakeHTTPServer(lambda request: Reply(status=500, body=b"<html>oops</html>")) as server:
        [result] = AliyunSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert result.error.code == "500"


def test_timeout_is_transient(fake, settings):
    def slow(request):
        time.sleep(settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS + 0.5)
        return fake(request)

    with FakeHTTPServer(slow) as server:
        [result] = AliyunSmsAdapter(_config(fake), base_url=server.url).send(
            [_message(1, "13800000001")]
        )
    assert not result.error.permanent
    assert result.error.code == "timeout"


def test_local_failures_need_no_call(fake):
    with FakeHTTPServer(fake) as server:
        adapter = AliyunSmsAdapter(_config(fake), base_url=server.url)
        no_sign = _message(3, "13800000003", {"template_code": "SMS_1"})
        missing = OutboundMessage(
            id=2, message_id="m-2", receiver="13800000002", content=CONTENT, variables={}
        )
        bad, no_var, unsigned = adapter.send([_message(1, "12"), missing, no_sign])
    assert server.requests == []
    assert bad.error.code == "invalid_receiver"
    assert bad.error.permanent
    assert no_var.error.code == "missing_variable"
    assert no_var.error.permanent
    assert unsigned.error.code == "missing_sign_name"
    assert unsigned.error.permanent


def test_to_aliyun_number():
    assert to_aliyun_number("13800000000") == "13800000000"
    assert to_aliyun_number("+8613800000000") == "13800000000"
    assert to_aliyun_number("+85212345678") == "85212345678"
    assert to_aliyun_number("hello") is None


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        AliyunSmsAdapter.validate_config({"access_key_id": "bad key!"})
    assert set(excinfo.value.detail) == {"access_key_id", "access_key_secret"}
    config = AliyunSmsAdapter.validate_config(
        {"access_key_id": "LTAI5tFakeFake", "access_key_secret": "s"}
    )
    assert config["sign_name"] == ""
    assert AliyunSmsAdapter.secret_fields == ("access_key_secret",)


def test_content_validation():
    AliyunSmsAdapter.validate_content("sms", CONTENT)
    with pytest.raises(serializers.ValidationError) as excinfo:
        AliyunSmsAdapter.validate_content("sms", {"template_code": "123", "params": [1]})
    assert set(excinfo.value.detail) == {"content.template_code", "content.params"}
