"""Receipts of twilio_sms: pushed to its receipt URL, or pulled on beat."""

from __future__ import annotations

from urllib.parse import urlencode

from django.test import Client

from channels_app.models import ChannelAccount
from channels_app.providers.twilio_sms.receipts import twilio_signature


def test_twilio_callbacks_are_checked_against_the_signature(tenant, sent_message):
    account = ChannelAccount.objects.create(
        app=tenant, name="tw", channel="sms", provider="twilio_sms",
        config={"account_sid": "AC" + "0" * 32, "auth_token": "tw-token", "from_number": "+15550000000"},
    )  # fmt: skip
    message = sent_message(account, "+15551112222", "SM123")
    params = {"MessageSid": "SM123", "MessageStatus": "delivered", "To": "+15551112222"}
    url = f"http://testserver/r/twilio_sms/{account.pk}"
    client = Client()

    forged = client.post(
        url, urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": twilio_signature("wrong", url, params)},
    )  # fmt: skip
    assert forged.status_code == 403
    signed = client.post(
        url, urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": twilio_signature("tw-token", url, params)},
    )  # fmt: skip
    assert signed.status_code == 200
    message.refresh_from_db()
    assert message.state == "DELIVERED"
