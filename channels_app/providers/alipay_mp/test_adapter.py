"""Alipay mini program messages against a fake gateway that checks RSA2 signatures."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from channels_app.providers.alipay_mp.adapter import AlipayMPAdapter
from channels_app.providers.alipay_mp.fake import FakeAlipay, forger_key, private_pem
from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply

CONTENT = {
    "template_id": "TPL-ORDER-SHIPPED",
    "page": "pages/order/detail?id=7",
    "data": {"keyword1": "Order 7", "keyword2": "已发货"},
}


@pytest.fixture
def alipay():
    fake = FakeAlipay()
    with FakeHTTPServer(fake) as server:
        yield fake, server


def _adapter(fake: FakeAlipay, server: FakeHTTPServer, **overrides) -> AlipayMPAdapter:
    config = AlipayMPAdapter.validate_config({**fake.config, **overrides})
    return AlipayMPAdapter(config, base_url=server.url)


def _message(receiver: str = "2088102122524333", **content) -> OutboundMessage:
    return OutboundMessage(
        id=1, message_id="msg-1", receiver=receiver, content={**CONTENT, **content}
    )


def test_a_signed_call_reaches_the_user(alipay):
    fake, server = alipay

    [by_user_id] = _adapter(fake, server).send([_message()])
    [by_open_id] = _adapter(fake, server).send(
        [_message("074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5")]
    )

    assert by_user_id.ok and by_open_id.ok, (by_user_id.error, by_open_id.error)
    first, second = fake.sent
    assert first["to_user_id"] == "2088102122524333"
    assert second["to_open_id"].startswith("074a1")
    assert first["user_template_id"] == "TPL-ORDER-SHIPPED"
    assert first["page"] == "pages/order/detail?id=7"
    assert first["data"] == {"keyword1": {"value": "Order 7"}, "keyword2": {"value": "已发货"}}


def test_a_request_signed_with_another_key_is_refused_for_good(alipay):
    fake, server = alipay

    [result] = _adapter(fake, server, private_key=private_pem(forger_key())).send([_message()])

    assert result.error is not None and result.error.permanent
    assert result.error.code == "isv.invalid-signature"
    assert fake.sent == []


def test_an_answer_not_signed_by_alipay_is_not_taken_as_sent(alipay):
    fake, server = alipay
    fake.sign_answers_with = forger_key()

    [result] = _adapter(fake, server).send([_message()])

    assert result.error is not None and result.error.code == "bad_signature"
    # Permanent: Alipay may have sent it, and a retry would send it twice.
    assert result.error.permanent


def test_business_errors_are_permanent_and_outages_transient(alipay):
    fake, server = alipay
    adapter = _adapter(fake, server)

    [unknown_template] = adapter.send([_message(template_id="TPL-NOPE")])
    fake.answer_with = {"code": "20000", "msg": "Service Currently Unavailable",
                        "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙"}  # fmt: skip
    [unavailable] = adapter.send([_message()])
    fake.answer_with = {"code": "40004", "msg": "Business Failed",
                        "sub_code": "aop.app-call-limited", "sub_msg": "调用频率超限"}  # fmt: skip
    [limited] = adapter.send([_message()])
    fake.answer_with = None
    server.responder = lambda request: Reply(status=502, body=b"bad gateway")
    [gateway_down] = adapter.send([_message()])

    assert unknown_template.error.permanent
    assert unknown_template.error.code == "USER_TEMPLATE_ID_NOT_EXIST"
    assert not unavailable.error.permanent and not unavailable.error.rate_limited
    assert limited.error.rate_limited
    assert not gateway_down.error.permanent


def test_keys_and_content_are_checked_on_save():
    with pytest.raises(serializers.ValidationError) as bad_key:
        AlipayMPAdapter.validate_config(
            {"app_id": "2021004100000001", "private_key": "not a key", "alipay_public_key": "x"}
        )
    with pytest.raises(serializers.ValidationError) as bad_content:
        AlipayMPAdapter.validate_content("alipay_mp", {"data": {}, "page": 3})

    assert {"private_key", "alipay_public_key"} <= set(bad_key.value.detail)
    assert set(bad_content.value.detail) == {"content.template_id", "content.data", "content.page"}
