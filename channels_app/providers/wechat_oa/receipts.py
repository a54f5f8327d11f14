"""Official account template-message receipts: WeChat pushes `TEMPLATESENDJOBFINISH` to the
account's server URL once the template message reached the user or did not, keyed by the
msgid the send call answered (stored as the message's provider_message_id)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from channels_app.models import ChannelAccount
from channels_app.providers.receipts import Receipt
from channels_app.providers.wechat_server import ANSWER, event_time, pushed_event, verify_url
from tracking.models import MessageState

# For the generic receipt machinery: a push is proven by its signature with the account's
# token (its URL needs no secret segment), and WeChat checks the URL with a signed GET.
PUSH_SIGNED = True
GET_VERIFIED = True


# WeChat's reply to a push it needs no answer to: anything else makes it retry (3 times).
def template_receipt(fields: dict[str, Any]) -> Receipt:
    """`Status` is "success", "failed:user block" (the user refuses the account's messages)
    or "failed: system failed" (any other reason); other failures keep WeChat's wording."""
    status = str(fields.get("Status") or "").strip()
    delivered = status == "success"
    return Receipt(
        str(fields.get("MsgID") or fields.get("MsgId") or ""),
        MessageState.DELIVERED if delivered else MessageState.UNDELIVERED,
        event_time(fields),
        f"wechat: {status or 'no status'}"[:500],
        str(fields.get("FromUserName") or ""),
    )


def parse_push(request: HttpRequest, account: ChannelAccount) -> tuple[list[Receipt], Any]:
    if request.method == "GET":
        return [], verify_url(request, account.config)
    fields = pushed_event(request, account.config)
    # The server URL also receives the account's other events and user messages: ignored.
    if fields.get("MsgType") != "event" or fields.get("Event") != "TEMPLATESENDJOBFINISH":
        return [], ANSWER
    return [template_receipt(fields)], ANSWER
