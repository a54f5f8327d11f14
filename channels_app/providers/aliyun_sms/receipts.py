"""Alibaba Cloud SMS receipts: pushed (SmsReport) to the account's receipt URL, and pulled on
beat (QuerySendDetails for each of the account's messages still SENT, oldest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from channels_app.models import ChannelAccount
from channels_app.providers.aliyun_sms.adapter import AliyunSmsAdapter, to_aliyun_number
from channels_app.providers.receipts import (
    CHINA,
    DELIVERED,
    UNDELIVERED,
    Parsed,
    Receipt,
    json_body,
    local_time,
    receipt_items,
)
from tracking.receipts.base import messages_awaiting_receipt, receipts_apply


def parse_push(request: HttpRequest, account: ChannelAccount) -> Parsed:
    """[{"biz_id", "phone_number", "success", "err_code", "err_msg", "report_time",
    "out_id"}, ...]."""
    receipts = []
    for item in receipt_items(json_body(request), "body"):
        ok = item.get("success") in (True, "true", "True", 1)
        receipts.append(
            Receipt(
                str(item.get("biz_id") or ""),
                DELIVERED if ok else UNDELIVERED,
                local_time(item.get("report_time")),
                f"aliyun_sms: {item.get('err_code') or ''} {item.get('err_msg') or ''}".strip(),
                str(item.get("phone_number") or ""),
            )
        )
    return receipts, {"code": 0, "msg": "成功"}


def _details(adapter: AliyunSmsAdapter, biz_id: str, number: str, sent_at: datetime) -> list:
    answer: dict[str, Any] = adapter.call(
        "QuerySendDetails",
        {
            "PhoneNumber": number,
            "BizId": biz_id,
            "SendDate": sent_at.astimezone(CHINA).strftime("%Y%m%d"),
            "PageSize": "10",
            "CurrentPage": "1",
        },
    )
    return (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []


def pull(account: ChannelAccount, now: datetime, limit: int) -> dict[str, int]:
    """Ask for the status of the account's messages still SENT (oldest first)."""
    adapter = AliyunSmsAdapter(account.config, base_url=account.base_url, account_id=account.pk)
    receipts: list[Receipt] = []
    for biz_id, receiver, sent_at in messages_awaiting_receipt(account.pk, now, limit):
        number = to_aliyun_number(receiver)
        if number is None:
            continue
        for item in _details(adapter, biz_id, number, sent_at):
            status = int(item.get("SendStatus") or 1)
            if status == 1:  # still waiting for the carrier
                continue
            receipts.append(
                Receipt(
                    biz_id,
                    DELIVERED if status == 3 else UNDELIVERED,
                    local_time(item.get("ReceiveDate")),
                    f"aliyun_sms: {item.get('ErrCode') or ''}".strip(),
                    str(item.get("PhoneNum") or number),
                )
            )
    return receipts_apply(receipts, account_id=account.pk)
