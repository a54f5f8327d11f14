"""Getui (个推) message receipts (消息回执), pushed to the account's receipt URL once Getui
support has enabled them for the app (arrival and click receipts are separate switches).

Documented contract: an HTTP POST whose text body holds one receipt per line, each a JSON
object {appid, cid, taskid, msgid, code, desc, sign, actionId?, recvtime?}, where
sign = MD5(appid + cid + taskid + msgid + MasterSecret). Getui does not resend once it got
any HTTP answer, and drops a receipt after three failed tries.

Mapping: `taskid` is the provider id our send stored (one per single push, shared by a
list push: then `cid` picks the message). code 200 (or 0) without actionId is the arrival
→ DELIVERED; another code → UNDELIVERED with code and desc. actionId 60001 ("notification
shown") → DELIVERED; 60002 ("notification clicked") → CLICKED (after DELIVERED, so the
funnel counts it delivered even when the arrival receipt was lost).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.receipts import Receipt, ReceiptRejected
from tracking.models import MessageState

# For the generic receipt machinery: a push is proven by its `sign` with the account's
# MasterSecret (its URL needs no secret segment).
PUSH_SIGNED = True

SHOWN, CLICKED = "60001", "60002"
ARRIVED_CODES = {"200", "0"}
REQUIRED = ("appid", "cid", "taskid", "msgid", "sign")
MAX_LINES = 10_000


def receipt_sign(appid: str, cid: str, taskid: str, msgid: str, master_secret: str) -> str:
    raw = f"{appid}{cid}{taskid}{msgid}{master_secret}"
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


def _lines(body: bytes) -> list[dict[str, Any]]:
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ReceiptRejected("body: not UTF-8 text") from None
    if not text:
        raise ReceiptRejected("body: one JSON receipt per line expected, got nothing")
    try:
        parsed = json.loads(text)  # a single receipt, or a JSON array of them
        items = parsed if isinstance(parsed, list) else [parsed]
    except ValueError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise ReceiptRejected("body: each line must be one JSON receipt") from None
    if len(items) > MAX_LINES or not all(isinstance(item, dict) for item in items):
        raise ReceiptRejected("body: each line must be one JSON receipt object")
    return items


def _at(item: dict[str, Any]) -> datetime:
    value = str(item.get("recvtime") or "")
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return timezone.now()


def _receipts(item: dict[str, Any]) -> list[Receipt]:
    taskid, cid, at = str(item["taskid"]), str(item["cid"]), _at(item)
    action = str(item.get("actionId") or "")
    if action == CLICKED:
        return [
            Receipt(taskid, MessageState.DELIVERED, at, "getui: arrived (clicked)", cid),
            Receipt(taskid, MessageState.CLICKED, at, "getui: notification clicked", cid),
        ]
    if action == SHOWN:
        return [Receipt(taskid, MessageState.DELIVERED, at, "getui: notification shown", cid)]
    if action:
        return []  # an app-defined feedback action (90001-90999): not a lifecycle step
    code = str(item.get("code") if item.get("code") is not None else "")
    if code in ARRIVED_CODES:
        return [Receipt(taskid, MessageState.DELIVERED, at, "getui: arrived", cid)]
    detail = f"getui: not delivered, code {code} {str(item.get('desc') or '')[:200]}".strip()
    return [Receipt(taskid, MessageState.UNDELIVERED, at, detail, cid)]


def parse_push(request: HttpRequest, account: ChannelAccount) -> tuple[list[Receipt], Any]:
    """Every line must be signed with this account's MasterSecret for its app id, or the
    whole request is refused (403) and nothing is applied."""
    secret = str(account.config.get("master_secret") or "")
    app_id = str(account.config.get("app_id") or "")
    receipts: list[Receipt] = []
    for index, item in enumerate(_lines(request.body)):
        missing = [name for name in REQUIRED if not item.get(name)]
        if missing:
            raise ReceiptRejected(f"line {index + 1}: {', '.join(missing)} required")
        values = [str(item[name]) for name in ("appid", "cid", "taskid", "msgid")]
        expected = receipt_sign(values[0], values[1], values[2], values[3], secret)
        if not secret or not hmac.compare_digest(expected, str(item["sign"]).lower()):
            raise ReceiptRejected(f"line {index + 1}: sign does not match", status=403)
        if values[0] != app_id:
            raise ReceiptRejected(f"line {index + 1}: appid is not this account's", status=403)
        receipts.extend(_receipts(item))
    return receipts, {"code": 0, "msg": "ok"}
