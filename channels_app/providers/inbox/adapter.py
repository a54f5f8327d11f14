"""In-app inbox: the message is stored for the receiver (a user id of the App's own), who
reads it through /api/v1/inbox with a token the App signs for them (channels_app.inbox)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.models import ChannelAccount, InboxItem
from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult


class InboxAdapter(ProviderAdapter):
    provider = "inbox"
    label = "In-app inbox"
    channels = (Channel.INBOX,)
    max_batch_size = 1000

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors = {}
        if not isinstance(content.get("body"), str) or not content["body"].strip():
            errors["content.body"] = "an inbox message needs a body"
        if "title" in content and not isinstance(content["title"], str):
            errors["content.title"] = "must be a string"
        elif len(content.get("title") or "") > 500:
            errors["content.title"] = "at most 500 characters"
        if "data" in content and not isinstance(content["data"], dict):
            errors["content.data"] = "an object your app reads (links, ids, ...)"
        if errors:
            raise serializers.ValidationError(errors)

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        app_id = (
            ChannelAccount.objects.filter(pk=self.account_id)
            .values_list("app_id", flat=True)
            .first()
        )
        if app_id is None:
            raise DeliveryError("inbox account not found", permanent=True, code="no_account")
        # One row per message: a message sent again after a crash finds its row and
        # changes nothing.
        InboxItem.objects.bulk_create(
            [
                InboxItem(
                    app_id=app_id,
                    user_id=message.receiver,
                    message_id=message.id,
                    title=str(message.content.get("title") or "")[:500],
                    body=str(message.content.get("body") or ""),
                    data=message.content.get("data") or {},
                )
                for message in messages
            ],
            ignore_conflicts=True,
        )
        return [SendResult(provider_message_id=message.message_id) for message in messages]
