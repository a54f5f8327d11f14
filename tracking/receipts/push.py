"""Parsers of the receipts providers push, one per provider; others use the generic shape.

Providers that sign their callbacks (Twilio, WeChat, Getui) are verified with the account's
credentials; the others are only accepted on the account's secret receipt URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_app.models import ChannelAccount
from channels_app.providers.getui import receipts as getui_receipts
from channels_app.providers.wechat_mp import receipts as wechat_mp_receipts
from channels_app.providers.wechat_oa import receipts as wechat_oa_receipts
from channels_app.providers.yunpian_sms import receipts as yunpian_sms_receipts
from tracking.models import MessageState
from tracking.receipts.base import Receipt, ReceiptRejected, local_time

Parsed = tuple[list[Receipt], Any]  # receipts, the answer the provider expects
Parser = Callable[[HttpRequest, ChannelAccount], Parsed]


def _json(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise ReceiptRejected("body: not JSON") from None


def _list(body: Any, field: str) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise ReceiptRejected(f"{field}: expected a JSON array of receipt objects")
    return body


def tencent_sms(request: HttpRequest, account: ChannelAccount) -> Parsed:
    """Tencent SMS 状态回执: [{"sid", "mobile", "nationcode", "report_status", "errmsg",
    "description", "user_receive_time"}, ...]."""
    receipts = []
    for item in _list(_json(request), "body"):
        ok = str(item.get("report_status", "")).upper() == "SUCCESS"
        detail = " ".join(
            part
            for part in (str(item.get("errmsg") or ""), str(item.get("description") or ""))
            if part
        )
        receipts.append(
            Receipt(
                str(item.get("sid") or ""),
                MessageState.DELIVERED if ok else MessageState.UNDELIVERED,
                local_time(item.get("user_receive_time")),
                f"tencent_sms: {detail}".strip(),
                f"{item.get('nationcode') or ''}{item.get('mobile') or ''}",
            )
        )
    return receipts, {"result": 0, "errmsg": "OK"}


def aliyun_sms(request: HttpRequest, account: ChannelAccount) -> Parsed:
    """Alibaba Cloud SMS receipt push (SmsReport): [{"biz_id", "phone_number", "success",
    "err_code", "err_msg", "report_time", "out_id"}, ...]."""
    receipts = []
    for item in _list(_json(request), "body"):
        ok = item.get("success") in (True, "true", "True", 1)
        receipts.append(
            Receipt(
                str(item.get("biz_id") or ""),
                MessageState.DELIVERED if ok else MessageState.UNDELIVERED,
                local_time(item.get("report_time")),
                f"aliyun_sms: {item.get('err_code') or ''} {item.get('err_msg') or ''}".strip(),
                str(item.get("phone_number") or ""),
            )
        )
    return receipts, {"code": 0, "msg": "成功"}


TWILIO_STATES = {
    "delivered": MessageState.DELIVERED,
    "undelivered": MessageState.UNDELIVERED,
    "failed": MessageState.UNDELIVERED,
    "read": MessageState.READ,
}


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by the sorted POST params."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_sms(request: HttpRequest, account: ChannelAccount) -> Parsed:
    """Twilio status callback (form-encoded MessageSid / MessageStatus / ErrorCode), signed."""
    params = {key: request.POST[key] for key in request.POST}
    given = request.headers.get("X-Twilio-Signature", "")
    token = str(account.config.get("auth_token") or "")
    # Behind a proxy the URL Twilio signed is the public one.
    urls = {
        request.build_absolute_uri(),
        settings.TIDINGS_PUBLIC_URL.rstrip("/") + request.get_full_path(),
    }
    if not token or not any(
        hmac.compare_digest(twilio_signature(token, url, params), given) for url in urls
    ):
        raise ReceiptRejected("X-Twilio-Signature does not match", status=403)
    state = TWILIO_STATES.get(params.get("MessageStatus", ""))
    if state is None:  # queued / sending / sent: nothing new
        return [], ""
    detail = f"twilio: {params.get('MessageStatus')}"
    if params.get("ErrorCode"):
        detail += f" (error {params['ErrorCode']})"
    return [Receipt(params.get("MessageSid", ""), state, timezone.now(), detail)], ""


GENERIC_STATES = {
    "delivered": MessageState.DELIVERED,
    "undelivered": MessageState.UNDELIVERED,
    "read": MessageState.READ,
    "clicked": MessageState.CLICKED,
}


def generic(request: HttpRequest, account: ChannelAccount) -> Parsed:
    """Any other provider (a gateway relaying DingTalk/WeCom read states, a webhook peer):
    {"receipts": [{"provider_message_id", "status": delivered|undelivered|read|clicked,
    "receiver"?, "at"?, "detail"?}]}."""
    body = _json(request)
    items = body.get("receipts") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ReceiptRejected("receipts: expected a list")
    receipts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("provider_message_id"):
            raise ReceiptRejected(f"receipts[{index}].provider_message_id: required")
        state = GENERIC_STATES.get(str(item.get("status", "")).lower())
        if state is None:
            raise ReceiptRejected(f"receipts[{index}].status: one of {', '.join(GENERIC_STATES)}")
        at = parse_datetime(str(item.get("at") or "")) if item.get("at") else None
        if at is not None and timezone.is_naive(at):
            at = at.replace(tzinfo=timezone.get_current_timezone())
        receipts.append(
            Receipt(
                str(item["provider_message_id"]),
                state,
                at or timezone.now(),
                f"{account.provider}: {item.get('detail') or item['status']}"[:500],
                str(item.get("receiver") or ""),
            )
        )
    return receipts, {"ok": True}


PARSERS: dict[str, Parser] = {
    "tencent_sms": tencent_sms,
    "aliyun_sms": aliyun_sms,
    "twilio_sms": twilio_sms,
    "wechat_oa": wechat_oa_receipts.parse_push,
    "wechat_mp": wechat_mp_receipts.parse_push,
    "yunpian_sms": yunpian_sms_receipts.parse_push,
    "getui": getui_receipts.parse_push,
}
# Providers whose callbacks carry a signature checked with the account's credentials;
# their URL needs no secret token.
SIGNED = {"twilio_sms", "wechat_oa", "wechat_mp", "getui"}
# Providers whose receipt URL is also verified by a GET (WeChat's echostr check).
GET_VERIFIED = {"wechat_oa", "wechat_mp"}


def parser_for(provider: str) -> Parser:
    return PARSERS.get(provider, generic)
