from __future__ import annotations

import time
from urllib.parse import parse_qsl

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.yunpian_sms.adapter import (
    YunpianSmsAdapter,
    to_yunpian_number,
    tpl_value,
)
from channels_app.providers.yunpian_sms.fake import FakeYunpianSms

TPL = {"tpl_id": "1234567", "params": ["code", "minutes"]}


def _message(n: int, receiver: str, content: dict | None = None, **variables) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"m-{n}",
        receiver=receiver,
        content=content or TPL,
        variables={"code": "1234", "minutes": 5, **variables},
    )


def _form(request) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode()))


@pytest.fixture
def fake() -> FakeYunpianSms:
    return FakeYunpianSms()


def _adapter(fake: FakeYunpianSms, url: str, apikey: str | None = None) -> YunpianSmsAdapter:
    return YunpianSmsAdapter({"apikey": apikey or fake.apikey}, base_url=url)


def test_template_batch_send(fake):
    with FakeHTTPServer(fake) as server:
        results = _adapter(fake, server.url).send(
            [
                _message(1, "13800000001"),
                _message(2, "+8613800000002"),
                _message(3, "13800000003", code="9&9"),
            ]
        )

    assert fake.rejections == []
    assert [r.path for r in server.requests] == ["/v2/sms/tpl_batch_send.json"] * 2
    first, second = (_form(r) for r in server.requests)
    assert first["mobile"] == "13800000001,13800000002"
    assert first["tpl_id"] == "1234567"
    assert first["tpl_value"] == "%23code%23=1234&%23minutes%23=5"
    assert first["apikey"] == fake.apikey
    assert second["tpl_value"] == "%23code%23=9%269&%23minutes%23=5"
    assert [a["text"] for a in fake.accepted] == [
        "【Acme】您的验证码是1234，5分钟内有效",
        "【Acme】您的验证码是1234，5分钟内有效",
        "【Acme】您的验证码是9&9，5分钟内有效",
    ]
    assert [r.provider_message_id for r in results] == [str(a["sid"]) for a in fake.accepted]


def test_text_batch_send_and_international_alone(fake):
    content = {"text": "【Acme】Maintenance tonight"}
    with FakeHTTPServer(fake) as server:
        results = _adapter(fake, server.url).send(
            [
                _message(1, "13800000001", content),
                _message(2, "+447700900123", content),
                _message(3, "13800000002", content),
            ]
        )
    assert all(r.ok for r in results)
    assert [(r.path, _form(r)["mobile"]) for r in server.requests] == [
        ("/v2/sms/batch_send.json", "13800000001,13800000002"),
        ("/v2/sms/batch_send.json", "+447700900123"),
    ]
    assert _form(server.requests[0])["text"] == "【Acme】Maintenance tonight"


def test_same_number_twice_goes_in_separate_calls(fake):
    content = {"text": "【Acme】Hello"}
    with FakeHTTPServer(fake) as server:
        first, second = _adapter(fake, server.url).send(
            [_message(1, "13800000001", content), _message(2, "13800000001", content)]
        )
    assert len(server.requests) == 2
    assert first.ok
    assert second.ok
    assert first.provider_message_id != second.provider_message_id


def test_per_number_failures_in_a_batch(fake):
    fake.number_codes = {
        "13800000002": (22, "1小时内同一手机号发送次数超过限制"),
        "13800000003": (10, "手机号防骚扰名单过滤"),
    }
    with FakeHTTPServer(fake) as server:
        ok, limited, blocked = _adapter(fake, server.url).send(
            [_message(i, f"1380000000{i}") for i in (1, 2, 3)]
        )
    assert len(server.requests) == 1
    assert ok.ok
    assert ok.provider_message_id == str(fake.accepted[0]["sid"])
    assert limited.error.rate_limited
    assert limited.error.code == "22"
    assert limited.error.retry_after == 3600.0
    assert blocked.error.permanent
    assert blocked.error.code == "10"
    assert "防骚扰" in blocked.error.reason


def test_bad_apikey_is_permanent(fake):
    with FakeHTTPServer(fake) as server:
        [result] = _adapter(fake, server.url, apikey="f" * 32).send([_message(1, "13800000001")])
    assert fake.rejections == [-1]
    assert result.error.permanent
    assert result.error.code == "-1"
    assert "f" * 32 not in str(result.error)


def test_unknown_template_is_permanent(fake):
    with FakeHTTPServer(fake) as server:
        [result] = _adapter(fake, server.url).send(
            [_message(1, "13800000001", {"tpl_id": "999", "params": ["code"]})]
        )
    assert result.error.permanent
    assert result.error.code == "5"


def test_frequency_limit_is_rate_limited_and_stops_the_batch(fake):
    fake.request_error = (400, -5, "访问频率超限")
    with FakeHTTPServer(fake) as server:
        results = _adapter(fake, server.url).send(
            [_message(1, "13800000001"), _message(2, "13800000002", code="2")]
        )
    assert len(server.requests) == 1
    assert all(r.error.rate_limited and r.error.code == "-5" for r in results)


def test_system_busy_is_transient(fake):
    fake.request_error = (500, -51, "系统繁忙")
    with FakeHTTPServer(fake) as server:
        [result] = _adapter(fake, server.url).send([_message(1, "13800000001")])
    assert not result.error.permanent
    assert not result.error.rate_limited
    assert result.error.code == "-51"


def test_server_error_is_transient(fake):
    with FakeHTTPServer(lambda request: Reply(status=502, body=b"<html>502</html>")) as server:
        [result] = _adapter(fake, server.url).send([_message(1, "13800000001")])
    assert not result.error.permanent
    assert result.error.code == "502"


def test_timeout_is_transient(fake, settings):
    def slow(request):
        time.sleep(settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS + 0.5)
        return fake(request)

    with FakeHTTPServer(slow) as server:
        [result] = _adapter(fake, server.url).send([_message(1, "13800000001")])
    assert not result.error.permanent
    assert result.error.code == "timeout"


def test_local_failures_need_no_call(fake):
    with FakeHTTPServer(fake) as server:
        bad, missing = _adapter(fake, server.url).send(
            [
                _message(1, "call me"),
                OutboundMessage(id=2, message_id="m-2", receiver="13800000002", content=TPL),
            ]
        )
    assert server.requests == []
    assert bad.error.code == "invalid_receiver"
    assert bad.error.permanent
    assert missing.error.code == "missing_variable"
    assert missing.error.permanent


def test_helpers():
    assert tpl_value({"code": "1 2", "company": "云片网"}) == (
        "%23code%23=1%202&%23company%23=%E4%BA%91%E7%89%87%E7%BD%91"
    )
    assert to_yunpian_number("+86 138 0000 0000") == "13800000000"
    assert to_yunpian_number("0044 7700 900123") == "+447700900123"
    assert to_yunpian_number("abc") is None


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        YunpianSmsAdapter.validate_config({"apikey": "short"})
    assert "apikey" in excinfo.value.detail
    assert YunpianSmsAdapter.validate_config({"apikey": "a" * 32}) == {"apikey": "a" * 32}
    assert YunpianSmsAdapter.secret_fields == ("apikey",)


def test_content_validation():
    YunpianSmsAdapter.validate_content("sms", TPL)
    YunpianSmsAdapter.validate_content("sms", {"text": "【Acme】Your code is {$code}"})
    YunpianSmsAdapter.validate_content("sms", {"text": "Your code is {$code}【Acme】"})
    with pytest.raises(serializers.ValidationError) as excinfo:
        YunpianSmsAdapter.validate_content("sms", {"text": "Your code is {$code}"})
    assert "content.text" in excinfo.value.detail
    with pytest.raises(serializers.ValidationError) as excinfo:
        YunpianSmsAdapter.validate_content("sms", {"tpl_id": "abc", "params": "code"})
    assert set(excinfo.value.detail) == {"content.tpl_id", "content.params"}
    with pytest.raises(serializers.ValidationError) as excinfo:
        YunpianSmsAdapter.validate_content("sms", {})
    assert "content.text" in excinfo.value.detail
