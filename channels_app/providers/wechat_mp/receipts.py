"""Mini program subscribe-message receipts, pushed to the account's server URL (XML or JSON,
plain or safe mode: the official account's protocol):

- `subscribe_msg_sent_event`: per MsgID (the msgid the send call answered) ErrorCode 0 ->
  DELIVERED, anything else -> UNDELIVERED with ErrorStatus as the reason.
- `subscribe_msg_popup_event` / `subscribe_msg_change_event` entries with
  SubscribeStatusString "reject": the user refused that WeChat template. No message is
  concerned (a refusal precedes the next send, which WeChat then refuses with 43101 and the
  message FAILS), so they are counted and logged, not applied to any message.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from channels_app.models import ChannelAccount
from channels_app.providers.receipts import Receipt, ReceiptRejected
from channels_app.providers.wechat_server import ANSWER, event_time, pushed_event, verify_url
from tracking.models import MessageState

logger = logging.getLogger(__name__)

# For the generic receipt machinery: a push is proven by its signature with the account's
# token (its URL needs no secret segment), and WeChat checks the URL with a signed GET.
PUSH_SIGNED = True
GET_VERIFIED = True

# Event -> the XML element wrapping its <List> entries (JSON puts "List" at the top).
WRAPPERS = {
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
}


def entries(fields: dict[str, Any], event: str) -> list[dict[str, Any]]:
    wrapper = fields.get(WRAPPERS[event])
    items = wrapper.get("List") if isinstance(wrapper, dict) else fields.get("List")
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ReceiptRejected(f"{event}: List: expected one or more entries")
    return items


def sent_receipts(fields: dict[str, Any]) -> list[Receipt]:
    at, openid = event_time(fields), str(fields.get("FromUserName") or "")
    receipts = []
    for item in entries(fields, "subscribe_msg_sent_event"):
        code = str(item.get("ErrorCode", "")).strip()
        status = str(item.get("ErrorStatus") or "").strip()
        receipts.append(
            Receipt(
                str(item.get("MsgID") or item.get("MsgId") or ""),
                MessageState.DELIVERED if code == "0" else MessageState.UNDELIVERED,
                at,
                f"wechat_mp: {status or 'error'} (ErrorCode {code or '?'})"[:500],
                openid,
            )
        )
    return receipts


def parse_push(request: HttpRequest, account: ChannelAccount) -> tuple[list[Receipt], Any]:
    if request.method == "GET":
        return [], verify_url(request, account.config)
    fields = pushed_event(request, account.config)
    event = str(fields.get("Event") or "")
    if fields.get("MsgType") != "event" or event not in WRAPPERS:
        return [], ANSWER
    if event == "subscribe_msg_sent_event":
        return sent_receipts(fields), ANSWER
    refused = [
        str(item.get("TemplateId") or "")
        for item in entries(fields, event)
        if str(item.get("SubscribeStatusString") or "") == "reject"
    ]
    if refused:
        logger.info(
            "wechat_mp account %s: a user refused templates %s (%s)", account.pk, refused, event
        )
    return [], ANSWER
