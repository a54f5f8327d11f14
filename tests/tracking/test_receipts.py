"""The generic receipt machinery: the generic push shape and anymail's webhooks (each
provider's own receipts are tested in its folder, channels_app/providers/<kind>/)."""

from __future__ import annotations

import json

from django.test import Client

from channels_app.models import ChannelAccount
from tracking.models import Message
from tracking.receipts.base import receipt_token
from tracking.receipts.pull import pullers


def test_generic_receipts_validate_the_body_and_scope_to_the_account(tenant, ding, send):
    ids = send("ding", ["u1"])
    message = Message.objects.get(message_id=ids[0])
    account = message.account
    other_account = ChannelAccount.objects.create(
        app=tenant, name="ding2", channel="dingtalk", provider="dingtalk_work",
        config={"appkey": "k", "appsecret": "s", "agent_id": 1},
    )  # fmt: skip
    client = Client()

    def post(acc, body):
        return client.post(
            f"/r/dingtalk_work/{acc.pk}/{receipt_token(acc.pk)}",
            json.dumps(body),
            content_type="application/json",
        )

    bad = post(account, {"receipts": [{"provider_message_id": "1", "status": "lost"}]})
    assert bad.status_code == 400 and "receipts[0].status" in bad.json()["message"]
    read = {"provider_message_id": message.provider_message_id, "status": "read", "receiver": "u1"}
    post(other_account, {"receipts": [read]})  # the wrong account's URL matches nothing
    message.refresh_from_db()
    assert message.state == "SENT"
    assert post(account, {"receipts": [read]}).status_code == 200
    message.refresh_from_db()
    assert message.state == "READ"


def test_anymail_sendgrid_tracking_webhook_moves_email_messages(tenant, settings, sent_message):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "user:pass"}
    account = ChannelAccount.objects.create(
        app=tenant, name="sg", channel="email", provider="sendgrid", config={}
    )
    message = sent_message(account, "a@example.com", "sg-id-1")
    events = [
        {"event": "delivered", "email": "a@example.com", "timestamp": 1735700000,
         "sg_message_id": "sg-id-1.filter0001", "smtp-id": "<x@y>", "anymail_id": "sg-id-1"},
        {"event": "open", "email": "a@example.com", "timestamp": 1735700100,
         "sg_message_id": "sg-id-1.filter0001", "anymail_id": "sg-id-1"},
    ]  # fmt: skip
    client = Client()

    unauthorized = client.post(
        "/r/anymail/sendgrid/tracking/", events, content_type="application/json"
    )
    response = client.post(
        "/r/anymail/sendgrid/tracking/",
        events,
        content_type="application/json",
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )

    assert unauthorized.status_code == 401
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.state == "READ"
    assert list(message.events.values_list("state", flat=True)) == ["DELIVERED", "READ"]


def test_beat_pulls_every_provider_whose_folder_has_a_pull_unless_narrowed(settings):
    settings.TIDINGS_RECEIPT_PULL_PROVIDERS = []
    found = pullers()
    assert found  # the SMS providers that keep receipts for polling
    assert all(
        pull.__module__ == f"channels_app.providers.{k}.receipts" for k, pull in found.items()
    )
    first = next(iter(found))
    settings.TIDINGS_RECEIPT_PULL_PROVIDERS = [first, "no_such_provider"]
    assert list(pullers()) == [first]
