"""Receipts of aliyun_sms: pushed to its receipt URL, or pulled on beat."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from channels_app.models import ChannelAccount
from tracking.models import Message
from tracking.receipts.base import receipt_token


def test_aliyun_push_matches_a_shared_biz_id_by_number(tenant, sent_message):
    account = ChannelAccount.objects.create(
        app=tenant, name="ali", channel="sms", provider="aliyun_sms",
        config={"access_key_id": "LTAIfake0000", "access_key_secret": "s"},
    )  # fmt: skip
    first = sent_message(account, "13800000001", "100001^0")
    second = sent_message(account, "13800000002", "100001^0")
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


def test_aliyun_pull_queries_each_sent_message(tenant, fake_http, sent_message):
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
    done = sent_message(account, "13800000001", "1^0")
    waiting = sent_message(account, "13800000002", "1^0")
    Message.objects.update(sent_at=timezone.now() - timedelta(minutes=5))

    receipts_pull()

    done.refresh_from_db()
    waiting.refresh_from_db()
    assert sorted(asked) == ["13800000001", "13800000002"]
    assert (done.state, waiting.state) == ("DELIVERED", "SENT")
