"""Email receipts are authenticated by default: a forged post is refused with a JSON 401/403
and moves nothing, queues no status callback."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from channels_app.models import ChannelAccount
from tracking.models import CallbackOutbox, Message

SECRET = "anymail:test-webhook-secret"
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()


def _state(message: Message) -> str:
    return Message.objects.get(pk=message.pk).state


def _sendgrid_bounce(message_id: str) -> list[dict]:
    return [
        {"event": "bounce", "email": "a@example.com", "timestamp": 1735700000,
         "sg_message_id": f"{message_id}.filter0001", "reason": "550 forged",
         "type": "bounce", "anymail_id": message_id},
    ]  # fmt: skip


# --- SendGrid -----------------------------------------------------------------------------


@pytest.fixture
def sendgrid_message(tenant, sent_message):
    account = ChannelAccount.objects.create(
        app=tenant, name="sg", channel="email", provider="sendgrid", config={}
    )
    return sent_message(account, "a@example.com", "sg-id-1")


def test_the_settings_require_a_webhook_secret(settings):
    assert settings.ANYMAIL["WEBHOOK_SECRET"] == SECRET


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"anymail:wrong").decode()},
        {"Authorization": "Bearer " + SECRET},
    ],
)
def test_forged_sendgrid_bounce_is_refused_and_changes_nothing(
    sendgrid_message, with_callback, headers
):
    response = Client().post(
        "/r/anymail/sendgrid/tracking/",
        _sendgrid_bounce("sg-id-1"),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert _state(sendgrid_message) == "SENT"
    assert not CallbackOutbox.objects.exists()


def test_sendgrid_bounce_with_the_secret_moves_the_message(sendgrid_message, with_callback):
    response = Client().post(
        "/r/anymail/sendgrid/tracking/",
        _sendgrid_bounce("sg-id-1"),
        content_type="application/json",
        headers={"Authorization": AUTH},
    )
    assert response.status_code == 200
    assert _state(sendgrid_message) == "UNDELIVERED"
    assert CallbackOutbox.objects.count() == 1


def test_sendgrid_signature_is_verified_when_its_key_is_set(
    sendgrid_message, with_callback, settings
):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body_only = b"".join(public.splitlines()[1:-1]).decode()
    settings.ANYMAIL = {**settings.ANYMAIL, "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": body_only}
    body = json.dumps(_sendgrid_bounce("sg-id-1")).encode()
    timestamp = str(int(time.time()))
    good = base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256())))
    client = Client()

    def post(signature: bytes):
        return client.post(
            "/r/anymail/sendgrid/tracking/", body, content_type="application/json",
            headers={"Authorization": AUTH, "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
                     "X-Twilio-Email-Event-Webhook-Signature": signature.decode()},
        )  # fmt: skip

    forged = post(base64.b64encode(b"0" * 70))
    assert forged.status_code == 403 and forged.json()["error"] == "invalid_signature"
    assert _state(sendgrid_message) == "SENT"
    assert not CallbackOutbox.objects.exists()
    assert post(good).status_code == 200
    assert _state(sendgrid_message) == "UNDELIVERED"


def test_malformed_sendgrid_body_is_a_400_not_a_500(sendgrid_message):
    response = Client().post(
        "/r/anymail/sendgrid/tracking/", b"{not json", content_type="application/json",
        headers={"Authorization": AUTH},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_receipt"


def test_receipt_urls_command_prints_urls_that_authenticate(db):
    from io import StringIO
    from urllib.parse import unquote, urlsplit

    from django.core.management import call_command

    out = StringIO()
    call_command("receipt_urls", stdout=out)
    url = next(line.strip() for line in out.getvalue().splitlines() if "sendgrid" in line)
    parts = urlsplit(url)
    auth = f"{unquote(parts.username)}:{unquote(parts.password)}"
    response = Client().post(
        parts.path, [], content_type="application/json",
        headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()},
    )  # fmt: skip
    assert response.status_code == 200
