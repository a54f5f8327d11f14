"""Yunpian (云片) delivery reports, both documented ways; each report carries the `sid` the
send answered per number (stored as the message's provider id) and the mobile.

- Push (推送状态报告, enabled in Yunpian's console with this account's receipt URL): a
  form POST whose `sms_status` field is the URL-encoded JSON array of up to 100 reports
  {sid, uid, user_receive_time, error_msg, mobile, report_status SUCCESS|FAIL,
  error_detail}. Some senders encode it twice. Yunpian wants "SUCCESS" or "0" back, and
  retries three times, five minutes apart, on anything else.
- Pull (获取状态报告, `/v2/sms/pull_status.json`, apikey + page_size ≤ 100): Yunpian keeps
  new reports 72 hours and hands each out once, so a pull drains pages until a short one.
  Both carry the same report objects; a replayed report changes nothing (receipts only
  move a message forward).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from django.http import HttpRequest

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError
from channels_app.providers.http import http_request, raise_for_status
from channels_app.providers.receipts import Receipt, ReceiptRejected, local_time
from channels_app.providers.yunpian_sms.adapter import YunpianSmsAdapter, classify
from tracking.models import MessageState
from tracking.receipts.base import receipts_apply

PULL_PATH = "/v2/sms/pull_status.json"
PAGE_SIZE = 100  # Yunpian's maximum
STATES = {"SUCCESS": MessageState.DELIVERED, "FAIL": MessageState.UNDELIVERED}
ANSWER = "0"


def report_receipt(item: dict[str, Any]) -> Receipt | None:
    """One Yunpian report; None for a status that is not final (UNKNOWN)."""
    state = STATES.get(str(item.get("report_status") or "").upper())
    if state is None:
        return None
    reason = " ".join(
        str(part) for part in (item.get("error_msg"), item.get("error_detail")) if part
    )
    detail = "yunpian: delivered" if state == MessageState.DELIVERED else "yunpian: undelivered"
    if reason:
        detail += f" ({reason})"
    return Receipt(
        str(item.get("sid") or ""),
        state,
        local_time(item.get("user_receive_time")),
        detail,
        str(item.get("mobile") or ""),
    )


def _reports(raw: str) -> list[dict[str, Any]]:
    for candidate in (raw, unquote(raw)):  # once-decoded by the form parser, or twice-encoded
        try:
            body = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(body, dict):
            body = [body]
        if isinstance(body, list) and all(isinstance(item, dict) for item in body):
            return body
        break
    raise ReceiptRejected("sms_status: expected the URL-encoded JSON array of reports")


def parse_push(request: HttpRequest, account: ChannelAccount) -> tuple[list[Receipt], str]:
    raw = request.POST.get("sms_status")
    if not raw:
        raise ReceiptRejected("sms_status: required (a form field)")
    receipts = [r for r in map(report_receipt, _reports(raw)) if r is not None]
    return receipts, ANSWER


def _pull_page(adapter: YunpianSmsAdapter) -> list[dict[str, Any]]:
    response = http_request(
        "POST",
        adapter.base_url + PULL_PATH,
        data={"apikey": adapter.config["apikey"], "page_size": str(PAGE_SIZE)},
        headers={"Accept": "application/json;charset=utf-8"},
        check_status=False,
    )
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        # {"http_status_code", "code", "msg", "detail"}: e.g. -1 bad apikey, pull not enabled.
        raise classify(body["code"], str(body.get("msg") or ""), str(body.get("detail") or ""))
    raise_for_status(response)
    raise DeliveryError("unexpected Yunpian pull_status answer", code="bad_response")


# Pulled only when listed in TIDINGS_RECEIPT_PULL_PROVIDERS: the pull API must first be
# enabled in Yunpian's console, and it drains reports no other system may then read.
PULL_OPT_IN = True


def pull(account: ChannelAccount, now: datetime, limit: int) -> dict[str, int]:
    """Drain up to `limit` new reports of the account (whole pages of 100)."""
    adapter = YunpianSmsAdapter(account.config, base_url=account.base_url, account_id=account.pk)
    totals = {"received": 0, "matched": 0, "moved": 0}
    fetched = 0
    while fetched < limit:
        items = _pull_page(adapter)
        fetched += len(items)
        receipts = [r for r in map(report_receipt, items) if r is not None]
        for key, value in receipts_apply(receipts, account_id=account.pk).items():
            totals[key] += value
        if len(items) < PAGE_SIZE:
            break
    return totals
