"""Receipts of tencent_sms: pushed to its receipt URL, or pulled on beat."""

from __future__ import annotations

import pytest
from django.test import Client

from channels_app.models import ChannelAccount
from tracking.receipts.base import receipt_token


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


def test_tencent_push_receipts_need_the_account_token_and_move_forward_only(
    tenant, sms_account, sent_message
):
    ok = sent_message(sms_account, "13800000001", "2433:1")
    bad = sent_message(sms_account, "+8613800000002", "2433:2")
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


def test_tencent_pull_drains_the_status_queue(tenant, sms_account, fake_http, sent_message):
    from channels_app.providers.fakes_http import Reply

    message = sent_message(sms_account, "+8613800000003", "2433:3")
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
