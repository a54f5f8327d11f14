"""Writes for channel accounts that go beyond a form save."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from channels_app.breaker import breaker_reset
from channels_app.models import ChannelAccount
from channels_app.providers.registry import get_adapter_class
from notify.errors import ApiError
from notify.pipeline import Item, SendContext, message_send
from templates_app.models import MessageTemplate, ReceiverType, TemplateStatus


def channel_account_send_test(
    account: ChannelAccount,
    receiver: str,
    content: dict[str, Any],
    variables: dict[str, Any] | None = None,
) -> str:
    """Send one message through the real pipeline (API checks, rules, queue, worker) via
    this account; returns its message id. The content is kept in a template of its own,
    pinned to the account, so the next test starts from it."""
    get_adapter_class(account.provider).validate_content(account.channel, content)
    with transaction.atomic():
        template, _ = MessageTemplate.objects.update_or_create(
            app=account.app,
            code=f"tidings-test-{account.pk}",
            defaults={
                "name": f"Send test via {account.name}",
                "channel": account.channel,
                "receiver_type": ReceiverType.ANY,
                "content": content,
                "channel_account": account,
                "status": TemplateStatus.ACTIVE,
            },
        )
    ctx = SendContext(
        app=account.app,
        template_ref=template.pk,
        items=[Item(receiver=receiver, variables=variables or {}, biz_id="admin-test", index=0)],
    )
    answer = message_send(ctx)
    messages = answer.body.get("messages") or []
    if not messages:
        reasons = "; ".join(r["reason"] for r in answer.body.get("rejected", []))
        raise ApiError(f"not accepted: {reasons}", code="rejected")
    return messages[0]["message_id"]


def channel_account_breaker_reset(account: ChannelAccount) -> None:
    breaker_reset(account)
    ChannelAccount.objects.filter(pk=account.pk).update(consecutive_failures=0)
