"""Receipts pulled on beat from providers that keep them for polling: Tencent SMS
PullSmsSendStatus and Alibaba Cloud SMS QuerySendDetails."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.aliyun_sms.adapter import (
    AliyunSmsAdapter,
    to_aliyun_number,
)
from channels_app.providers.base import DeliveryError
from channels_app.providers.tencent_sms.adapter import TencentSmsAdapter
from channels_app.secrets import account_secret_values
from config.logredact import secrets_register
from tracking.models import Message, MessageState
from tracking.receipts.base import Receipt, receipts_apply
from tracking.receipts.push import CHINA, _local_time

logger = logging.getLogger(__name__)

TENCENT_PAGE = 100
TENCENT_MAX_PAGES = 20


def tencent_pull(account: ChannelAccount) -> dict[str, int]:
    """Drain the account's receipt queue at Tencent (each status is returned once)."""
    adapter = TencentSmsAdapter(account.config, base_url=account.base_url, account_id=account.pk)
    totals = {"received": 0, "matched": 0, "moved": 0}
    for _ in range(TENCENT_MAX_PAGES):
        # _call is the adapter's signed TC3 request; the action differs, the signing doesn't.
        answer = adapter._call(
            "PullSmsSendStatus",
            {"Limit": TENCENT_PAGE, "SmsSdkAppId": account.config["sms_sdk_app_id"]},
        )
        items = answer.get("PullSmsSendStatusSet") or []
        receipts = [
            Receipt(
                str(item.get("SerialNo") or ""),
                MessageState.DELIVERED
                if str(item.get("ReportStatus", "")).upper() == "SUCCESS"
                else MessageState.UNDELIVERED,
                _pull_time(item.get("UserReceiveTime")),
                f"tencent_sms: {item.get('Description') or item.get('ReportStatus') or ''}".strip(),
                str(item.get("PhoneNumber") or item.get("SubscriberNumber") or ""),
            )
            for item in items
        ]
        for key, value in receipts_apply(receipts, account_id=account.pk).items():
            totals[key] += value
        if len(items) < TENCENT_PAGE:
            break
    return totals


def _pull_time(value: Any) -> datetime:
    return _local_time(value, CHINA)


def aliyun_call(account: ChannelAccount, action: str, business: dict[str, str]) -> dict[str, Any]:
    """One signed dysmsapi RPC call through the adapter, answering the whole JSON."""
    adapter = AliyunSmsAdapter(account.config, base_url=account.base_url, account_id=account.pk)
    return adapter.call(action, business)


def aliyun_pull(account: ChannelAccount, now: datetime, limit: int) -> dict[str, int]:
    """Ask for the status of the account's messages still SENT (oldest first)."""
    window = timedelta(hours=settings.TIDINGS_RECEIPT_PULL_HOURS)
    pending = Message.objects.filter(
        account_id=account.pk,
        state=MessageState.SENT,
        sent_at__gte=now - window,
        sent_at__lte=now - timedelta(seconds=settings.TIDINGS_RECEIPT_PULL_DELAY_SECONDS),
    ).exclude(provider_message_id="")
    receipts: list[Receipt] = []
    for biz_id, receiver, sent_at in pending.order_by("sent_at").values_list(
        "provider_message_id", "receiver", "sent_at"
    )[:limit]:
        number = to_aliyun_number(receiver)
        if number is None or sent_at is None:
            continue
        answer = aliyun_call(
            account,
            "QuerySendDetails",
            {
                "PhoneNumber": number,
                "BizId": biz_id,
                "SendDate": sent_at.astimezone(CHINA).strftime("%Y%m%d"),
                "PageSize": "10",
                "CurrentPage": "1",
            },
        )
        details = (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
        for item in details:
            status = int(item.get("SendStatus") or 1)
            if status == 1:  # still waiting for the carrier
                continue
            receipts.append(
                Receipt(
                    biz_id,
                    MessageState.DELIVERED if status == 3 else MessageState.UNDELIVERED,
                    _pull_time(item.get("ReceiveDate")),
                    f"aliyun_sms: {item.get('ErrCode') or ''}".strip(),
                    str(item.get("PhoneNum") or number),
                )
            )
    return receipts_apply(receipts, account_id=account.pk)


def receipts_pull(now: datetime | None = None) -> dict[str, int]:
    """Pull receipts for every enabled account of a polling provider; one account's failure
    does not stop the others."""
    now = now or timezone.now()
    totals = {"accounts": 0, "received": 0, "matched": 0, "moved": 0, "errors": 0}
    accounts = ChannelAccount.objects.filter(
        enabled=True, provider__in=settings.TIDINGS_RECEIPT_PULL_PROVIDERS
    ).order_by("id")
    for account in accounts:
        secrets_register(account_secret_values(account))  # masked in any log line below
        try:
            if account.provider == "tencent_sms":
                result = tencent_pull(account)
            elif account.provider == "aliyun_sms":
                result = aliyun_pull(account, now, settings.TIDINGS_RECEIPT_PULL_LIMIT)
            else:
                continue
        except DeliveryError as error:
            totals["errors"] += 1
            logger.warning("receipt pull for account %s failed: %s", account.pk, error)
            continue
        totals["accounts"] += 1
        for key, value in result.items():
            totals[key] += value
    return totals
