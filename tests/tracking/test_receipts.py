"""Receipts pushed to /r/<provider>/..., pulled on beat, and from anymail's webhooks."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.models import ChannelAccount
from templates_app.models import MessageTemplate
from tracking.models import Message
from tracking.receipts.base import receipt_token
from tracking.receipts.push import twilio_signature


def _message(tenant, account, receiver, provider_id, state="SENT"):
    template, _ = MessageTemplate.objects.get_or_create(
        app=tenant,
        code=f"t-{account.provider}",
        defaults={
            "name": "t",
            "channel": account.channel,
            "receiver_type": "any",
            "content": {"text": "x"},
        },
    )
    from notify.models import SendRequest

    request = SendRequest.objects.create(app=tenant, template=template, priority="normal")
    now = timezone.now()
    return Message.objects.create(
        app=tenant, request=request, template=template, channel=account.channel, account=account,
        receiver=receiver, content={}, priority="normal", state=state,
        provider_message_id=provider_id, created_at=now, updated_at=now, sent_at=now,
    )  # fmt: skip


@pytest.fixture
def sms_account(tenant):
    return ChannelAccount.objects.create(
        app=tenant,
        name="tencent",
        channel="sms",
        provider="tencent_sms",
        config={
            "secret_id": "AKIDfake0000000000000000000000000000",
            "secret_key": "fake-secret-key",
            "sms_sdk_app_id": "1400006666",
        },
    )


def test_tencent_push_receipts_need_the_account_token_and_move_forward_only(tenant, sms_account):
    ok = _message(tenant, sms_account, "13800000001", "2433:1")
    bad = _message(tenant, sms_account, "+8613800000002", "2433:2")
    body = [
        {"sid": "2433:1", "mobile": "13800000001", "nationcode": "86", "report_status": "SUCCESS",
         "errmsg": "DELIVRD", "description": "用户短信送达成功", "user_receive_time": "2025-01-02 03:04:05"},
        {"sid": "2433:2", "mobile": "13800000002", "nationcode": "86", "report_status": "FAIL",
         "errmsg": "MK:0001", "description": "空号", "user_receive_time": "2025-01-02 03:04:06"},
    ]  # fmt: skip
    client = Client()
    url = f"/r/tencent_sms/{sms_account.pk}/"

    assert client.post(url + "0" * 32, body, content_type="application/json").status_code == 403
    response = client.post(
        url + receipt_token(sms_account.pk), body, content_type="application/json"
    )
    # a replay (Tencent retries) changes nothing
    client.post(url + receipt_token(sms_account.pk), body, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"result": 0, "errmsg": "OK"}
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert (ok.state, bad.state) == ("DELIVERED", "UNDELIVERED")
    event = ok.events.get(state="DELIVERED")
    assert event.at.isoformat() == "2025-01-01T19:04:05+00:00"  # Beijing time
    assert "空号" in bad.events.get(state="UNDELIVERED").detail
    assert ok.events.filter(state="DELIVERED").count() == 1


def test_aliyun_push_matches_a_shared_biz_id_by_number(tenant):
    account = ChannelAccount.objects.create(
        app=tenant, name="ali", channel="sms", provider="aliyun_sms",
        config={"access_key_id": "LTAIfake0000", "access_key_secret": "s"},
    )  # fmt: skip
    first = _message(tenant, account, "13800000001", "100001^0")
    second = _message(tenant, account, "13800000002", "100001^0")
    body = [{"phone_number": "13800000002", "success": True, "err_code": "DELIVERED",
             "err_msg": "用户接收成功", "biz_id": "100001^0", "report_time": "2025-01-02 03:04:05"}]  # fmt: skip

    response = Client().post(
        f"/r/aliyun_sms/{account.pk}/{receipt_token(account.pk)}",
        body,
        content_type="application/json",
    )

    assert response.json() == {"code": 0, "msg": "成功"}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("SENT", "DELIVERED")


def test_twilio_callbacks_are_checked_against_the_signature(tenant):
    account = ChannelAccount.objects.create(
        app=tenant, name="tw", channel="sms", provider="twilio_sms",
        config={"account_sid": "AC" + "0" * 32, "auth_token": "tw-token", "from_number": "+15550000000"},
    )  # fmt: skip
    message = _message(tenant, account, "+15551112222", "SM123")
    params = {"MessageSid": "SM123", "MessageStatus": "delivered", "To": "+15551112222"}
    url = f"http://testserver/r/twilio_sms/{account.pk}"
    client = Client()

    forged = client.post(
        url, urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": twilio_signature("wrong", url, params)},
    )  # fmt: skip
    assert forged.status_code == 403
    signed = client.post(
        url, urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": twilio_signature("tw-token", url, params)},
    )  # fmt: skip
    assert signed.status_code == 200
    message.refresh_from_db()
    assert message.state == "DELIVERED"


def test_generic_receipts_validate_the_body_and_scope_to_the_account(tenant, ding, send):
    ids = send("ding", ["u1"])
    message = Message.objects.get(message_id=ids[0])
    account = message.account
    other_account = ChannelAccount.objects.create(
        app=tenant, name="ding2", channel="dingtalk", provider="dingtalk_work",
        config={"appkey": "k", "appsecret": "s", "agent_id": 1},
    )  # fmt: skip
    client = Client()

    def post(acc, body):
        return client.post(
            f"/r/dingtalk_work/{acc.pk}/{receipt_token(acc.pk)}",
            json.dumps(body),
            content_type="application/json",
        )

    bad = post(account, {"receipts": [{"provider_message_id": "1", "status": "lost"}]})
    assert bad.status_code == 400 and "receipts[0].status" in bad.json()["message"]
    read = {"provider_message_id": message.provider_message_id, "status": "read", "receiver": "u1"}
    post(other_account, {"receipts": [read]})  # the wrong account's URL matches nothing
    message.refresh_from_db()
    assert message.state == "SENT"
    assert post(account, {"receipts": [read]}).status_code == 200
    message.refresh_from_db()
    assert message.state == "READ"


def test_tencent_pull_drains_the_status_queue(tenant, sms_account, fake_http):
    from channels_app.providers.fakes_http import Reply

    message = _message(tenant, sms_account, "+8613800000003", "2433:3")
    pages = [
        [{"SerialNo": "2433:3", "PhoneNumber": "+8613800000003", "ReportStatus": "SUCCESS",
          "Description": "用户短信送达成功", "UserReceiveTime": "2025-01-02 03:04:05"}],
    ]  # fmt: skip

    def responder(request):
        assert request.headers["x-tc-action"] == "PullSmsSendStatus"
        assert request.headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=AKID")
        assert request.json == {"Limit": 100, "SmsSdkAppId": "1400006666"}
        items = pages.pop(0) if pages else []
        return Reply(body={"Response": {"PullSmsSendStatusSet": items, "RequestId": "r"}})

    fake_http.responder = responder
    sms_account.base_url = fake_http.url
    sms_account.save()
    from tracking.receipts.pull import receipts_pull

    totals = receipts_pull()

    assert totals["moved"] == 1 and totals["errors"] == 0
    message.refresh_from_db()
    assert message.state == "DELIVERED"


def test_aliyun_pull_queries_each_sent_message(tenant, fake_http):
    from datetime import timedelta
    from urllib.parse import parse_qsl

    from channels_app.providers.fakes_http import Reply
    from tracking.receipts.pull import receipts_pull

    asked = []

    def responder(request):
        params = dict(parse_qsl(request.body.decode()))
        assert params["Action"] == "QuerySendDetails" and params["Signature"]
        asked.append(params["PhoneNumber"])
        status = 3 if params["PhoneNumber"] == "13800000001" else 1
        dto = {"SendStatus": status, "ErrCode": "DELIVERED", "PhoneNum": params["PhoneNumber"],
               "ReceiveDate": "2025-01-02 03:04:05"}  # fmt: skip
        return Reply(body={"Code": "OK", "SmsSendDetailDTOs": {"SmsSendDetailDTO": [dto]}})

    fake_http.responder = responder
    account = ChannelAccount.objects.create(
        app=tenant, name="ali", channel="sms", provider="aliyun_sms", base_url=fake_http.url,
        config={"access_key_id": "LTAIfake0000", "access_key_secret": "s"},
    )  # fmt: skip
    done = _message(tenant, account, "13800000001", "1^0")
    waiting = _message(tenant, account, "13800000002", "1^0")
    Message.objects.update(sent_at=timezone.now() - timedelta(minutes=5))

    receipts_pull()

    done.refresh_from_db()
    waiting.refresh_from_db()
    assert sorted(asked) == ["13800000001", "13800000002"]
    assert (done.state, waiting.state) == ("DELIVERED", "SENT")


def test_anymail_sendgrid_tracking_webhook_moves_email_messages(tenant, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "user:pass"}
    account = ChannelAccount.objects.create(
        app=tenant, name="sg", channel="email", provider="sendgrid", config={}
    )
    message = _message(tenant, account, "a@example.com", "sg-id-1")
    events = [
        {"event": "delivered", "email": "a@example.com", "timestamp": 1735700000,
         "sg_message_id": "sg-id-1.filter0001", "smtp-id": "<x@y>", "anymail_id": "sg-id-1"},
        {"event": "open", "email": "a@example.com", "timestamp": 1735700100,
         "sg_message_id": "sg-id-1.filter0001", "anymail_id": "sg-id-1"},
    ]  # fmt: skip
    client = Client()

    unauthorized = client.post(
        "/r/anymail/sendgrid/tracking/", events, content_type="application/json"
    )
    response = client.post(
        "/r/anymail/sendgrid/tracking/",
        events,
        content_type="application/json",
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )

    assert unauthorized.status_code == 401
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.state == "READ"
    assert list(message.events.values_list("state", flat=True)) == ["DELIVERED", "READ"]
