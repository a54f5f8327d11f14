"""Mini program subscribe-message events pushed to the server URL (XML or JSON, plain or
safe mode): per-MsgID send results, and refusals acknowledged without touching messages."""

from __future__ import annotations

import pytest

from channels_app.providers.fakes_wechat import WeChatServerPush, new_encoding_aes_key
from channels_app.providers.wechat_oa.test_receipts import (
    TOKEN,
    post,
    sent_message,
    wechat_account,
)


@pytest.mark.parametrize(("json_format", "safe"), [(False, False), (True, False), (True, True)])
def test_subscribe_msg_sent_event_moves_each_msgid(db, json_format, safe):
    aes_key = new_encoding_aes_key()
    account = wechat_account("wechat_mp", encoding_aes_key=aes_key)
    ok = sent_message(account, "oAnn", "1700827132819554304")
    refused = sent_message(account, "oAnn", "1700827132819554305")
    wechat = WeChatServerPush("wx-receipts", TOKEN, aes_key, json_format=json_format)
    event = wechat.subscribe_event(
        "oAnn",
        "subscribe_msg_sent_event",
        [
            {"TemplateId": "SUB-1", "MsgID": "1700827132819554304", "ErrorCode": 0,
             "ErrorStatus": "success"},
            {"TemplateId": "SUB-1", "MsgID": "1700827132819554305", "ErrorCode": 20004,
             "ErrorStatus": "fail: user refuse to accept the msg"},
        ],
    )  # fmt: skip

    response = post(account, wechat, event, safe=safe)

    assert (response.status_code, response.content) == (200, b"success")
    ok.refresh_from_db()
    refused.refresh_from_db()
    assert ok.state == "DELIVERED"
    assert refused.state == "UNDELIVERED"
    assert refused.events.get(state="UNDELIVERED").detail == (
        "wechat_mp: fail: user refuse to accept the msg (ErrorCode 20004)"
    )


def test_a_single_json_entry_is_accepted(db):
    account = wechat_account("wechat_mp")
    message = sent_message(account, "oAnn", "42")
    wechat = WeChatServerPush("wx-receipts", TOKEN, json_format=True)
    event = wechat.subscribe_event(
        "oAnn", "subscribe_msg_sent_event", [{"MsgID": "42", "ErrorCode": "0"}]
    )
    assert not isinstance(event["List"], list)  # JSON sends one entry as an object
    assert post(account, wechat, event).status_code == 200
    message.refresh_from_db()
    assert message.state == "DELIVERED"


@pytest.mark.parametrize("event", ["subscribe_msg_popup_event", "subscribe_msg_change_event"])
def test_refusals_are_acknowledged_and_touch_no_message(db, event, caplog):
    account = wechat_account("wechat_mp")
    message = sent_message(account, "oAnn", "42")
    wechat = WeChatServerPush("wx-receipts", TOKEN)
    fields = wechat.subscribe_event(
        "oAnn",
        event,
        [{"TemplateId": "SUB-1", "SubscribeStatusString": "reject", "PopupScene": "0"},
         {"TemplateId": "SUB-2", "SubscribeStatusString": "accept", "PopupScene": "0"}],
    )  # fmt: skip
    caplog.set_level("INFO", logger="channels_app.providers.wechat_mp.receipts")

    response = post(account, wechat, fields)

    assert (response.status_code, response.content) == (200, b"success")
    message.refresh_from_db()
    assert message.state == "SENT"
    assert "refused templates ['SUB-1']" in caplog.text


def test_an_event_without_entries_is_a_400(db):
    account = wechat_account("wechat_mp")
    wechat = WeChatServerPush("wx-receipts", TOKEN)
    fields = {"MsgType": "event", "Event": "subscribe_msg_sent_event", "FromUserName": "o"}
    response = post(account, wechat, fields)
    assert response.status_code == 400
    assert "List" in response.json()["message"]
