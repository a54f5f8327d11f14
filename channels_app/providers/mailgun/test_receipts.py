"""Mailgun receipts through its anymail webhook: the HMAC signing key is required and checked;
a forged post is refused and moves nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from django.test import Client

from channels_app.models import ChannelAccount
from tracking.models import CallbackOutbox, Message

SECRET = "anymail:test-webhook-secret"
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()


def _state(message: Message) -> str:
    return Message.objects.get(pk=message.pk).state


@pytest.fixture
def mailgun_message(tenant, sent_message):
    account = ChannelAccount.objects.create(
        app=tenant, name="mg", channel="email", provider="mailgun", config={}
    )
    return sent_message(account, "a@example.com", "<mg-id-1@mg.example.com>")


def _mailgun_event(key: str) -> dict:
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": {
            "event": "failed", "severity": "permanent", "timestamp": time.time(),
            "id": "ev-1", "recipient": "a@example.com", "reason": "bounce",
            "message": {"headers": {"message-id": "mg-id-1@mg.example.com"}},
            "delivery-status": {"code": 550, "message": "no such user"},
        },
    }  # fmt: skip


def test_mailgun_without_a_signing_key_is_a_clear_403(mailgun_message, settings):
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if not k.startswith("MAILGUN")}
    response = Client().post(
        "/r/anymail/mailgun/tracking/", _mailgun_event("whatever"),
        content_type="application/json", headers={"Authorization": AUTH},
    )  # fmt: skip
    assert response.status_code == 403
    assert response.json()["error"] == "webhook_not_configured"
    assert "TIDINGS_MAILGUN_WEBHOOK_SIGNING_KEY" in response.json()["message"]
    assert _state(mailgun_message) == "SENT"


def test_mailgun_signature_is_verified(mailgun_message, with_callback, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": "mg-signing-key"}
    client = Client()
    forged = client.post(
        "/r/anymail/mailgun/tracking/", _mailgun_event("not-the-key"),
        content_type="application/json", headers={"Authorization": AUTH},
    )  # fmt: skip
    assert forged.status_code == 403 and forged.json()["error"] == "invalid_signature"
    assert _state(mailgun_message) == "SENT"
    assert not CallbackOutbox.objects.exists()
    genuine = client.post(
        "/r/anymail/mailgun/tracking/", _mailgun_event("mg-signing-key"),
        content_type="application/json", headers={"Authorization": AUTH},
    )  # fmt: skip
    assert genuine.status_code == 200
    assert _state(mailgun_message) == "UNDELIVERED"
