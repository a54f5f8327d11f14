"""Tencent SMS receipts: pushed (状态回执) to the account's receipt URL, and pulled on beat
(PullSmsSendStatus drains the account's queue at Tencent; each status is returned once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from channels_app.models import ChannelAccount
from channels_app.providers.receipts import (
    DELIVERED,
    UNDELIVERED,
    Parsed,
    Receipt,
    json_body,
    local_time,
    receipt_items,
)
from channels_app.providers.tencent_sms.adapter import TencentSmsAdapter
from tracking.receipts.base import receipts_apply

PAGE = 100
MAX_PAGES = 20


def parse_push(request: HttpRequest, account: ChannelAccount) -> Parsed:
    """[{"sid", "mobile", "nationcode", "report_status", "errmsg", "description",
    "user_receive_time"}, ...]."""
    receipts = []
    for item in receipt_items(json_body(request), "body"):
        ok = str(item.get("report_status", "")).upper() == "SUCCESS"
        detail = " ".join(
            part
            for part in (str(item.get("errmsg") or ""), str(item.get("description") or ""))
            if part
        )
        receipts.append(
            Receipt(
                str(item.get("sid") or ""),
                DELIVERED if ok else UNDELIVERED,
                local_time(item.get("user_receive_time")),
                f"tencent_sms: {detail}".strip(),
                f"{item.get('nationcode') or ''}{item.get('mobile') or ''}",
            )
        )
    return receipts, {"result": 0, "errmsg": "OK"}


def _pulled(item: dict[str, Any]) -> Receipt:
    ok = str(item.get("ReportStatus", "")).upper() == "SUCCESS"
    return Receipt(
        str(item.get("SerialNo") or ""),
        DELIVERED if ok else UNDELIVERED,
        local_time(item.get("UserReceiveTime")),
        f"tencent_sms: {item.get('Description') or item.get('ReportStatus') or ''}".strip(),
        str(item.get("PhoneNumber") or item.get("SubscriberNumber") or ""),
    )


def pull(account: ChannelAccount, now: datetime, limit: int) -> dict[str, int]:
    """Drain the account's receipt queue (Tencent decides what is due: `now` and `limit`
    do not apply)."""
    adapter = TencentSmsAdapter(account.config, base_url=account.base_url, account_id=account.pk)
    totals = {"received": 0, "matched": 0, "moved": 0}
    for _ in range(MAX_PAGES):
        # _call is the adapter's signed TC3 request; the action differs, the signing doesn't.
        answer = adapter._call(
            "PullSmsSendStatus",
            {"Limit": PAGE, "SmsSdkAppId": account.config["sms_sdk_app_id"]},
        )
        items = answer.get("PullSmsSendStatusSet") or []
        result = receipts_apply([_pulled(item) for item in items], account_id=account.pk)
        for key, value in result.items():
            totals[key] += value
        if len(items) < PAGE:
            break
    return totals
