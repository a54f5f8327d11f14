"""Email receipts are authenticated by default: a forged post is refused with a JSON 401/403
and moves nothing, queues no status callback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from django.test import Client

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from tracking.models import CallbackEndpoint, CallbackOutbox, Message
from tracking.receipts.webhooks import sns_string_to_sign

SECRET = "anymail:test-webhook-secret"
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()


@pytest.fixture
def with_callback(tenant):
    CallbackEndpoint.objects.create(
        app=tenant, url="https://hooks.example.com/tidings", secret="s" * 32
    )


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


# --- Mailgun ------------------------------------------------------------------------------


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


# --- Amazon SES (SNS signatures) ----------------------------------------------------------


@pytest.fixture
def sns_signer(settings):
    """A local 'Amazon SNS': an RSA key, its certificate served on a fake host, and the
    allowed certificate URL pattern pointed at that host."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = cert.public_bytes(serialization.Encoding.PEM)
    with FakeHTTPServer(lambda request: Reply(body=pem)) as server:
        settings.TIDINGS_SNS_CERT_URL_REGEX = rf"^{re.escape(server.url)}/[^?#]+\.pem$"
        settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.1"]  # the egress guard, when present

        def sign(message: dict, version: str = "2", cert_path: str = "/SimpleNotif-1.pem"):
            message = {**message, "SignatureVersion": version,
                       "SigningCertURL": server.url + cert_path}  # fmt: skip
            algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
            signature = key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
            return {**message, "Signature": base64.b64encode(signature).decode()}

        sign.server = server
        yield sign


@pytest.fixture
def ses_message(tenant, sent_message):
    account = ChannelAccount.objects.create(
        app=tenant, name="ses", channel="email", provider="ses", config={}
    )
    return sent_message(account, "a@example.com", "ses-id-1")


def _sns_bounce(message_id: str = "ses-id-1") -> dict:
    ses_event = {
        "notificationType": "Bounce",
        "mail": {"messageId": message_id, "destination": ["a@example.com"],
                 "timestamp": "2025-01-01T00:00:00.000Z"},
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": "a@example.com"}],
                   "timestamp": "2025-01-01T00:00:01.000Z", "feedbackId": "f-1"},
    }  # fmt: skip
    return {
        "Type": "Notification",
        "MessageId": "sns-msg-1",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
        "Message": json.dumps(ses_event),
        "Timestamp": "2025-01-01T00:00:02.000Z",
    }


def _post_sns(body: dict, auth: str | None = AUTH):
    headers = {"x-amz-sns-message-type": body.get("Type", ""),
               "x-amz-sns-message-id": body.get("MessageId", "")}  # fmt: skip
    if auth:
        headers["Authorization"] = auth
    return Client().post(
        "/r/anymail/amazon_ses/tracking/", json.dumps(body), content_type="text/plain",
        headers=headers,
    )  # fmt: skip


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_notification_with_a_valid_sns_signature_moves_the_message(
    ses_message, with_callback, sns_signer, version
):
    response = _post_sns(sns_signer(_sns_bounce(), version=version))
    assert response.status_code == 200, response.content
    assert _state(ses_message) == "UNDELIVERED"
    assert CallbackOutbox.objects.count() == 1


def test_ses_signing_certificate_is_fetched_once(ses_message, sns_signer):
    for _ in range(3):
        assert _post_sns(sns_signer(_sns_bounce(), cert_path="/cached.pem")).status_code == 200
    fetched = [r for r in sns_signer.server.requests if r.path == "/cached.pem"]
    assert len(fetched) == 1


def test_forged_ses_notifications_are_refused(ses_message, with_callback, sns_signer, settings):
    unsigned = _sns_bounce()
    tampered = sns_signer(_sns_bounce())
    tampered["Message"] = tampered["Message"].replace("Permanent", "Transient")
    elsewhere = sns_signer(_sns_bounce())
    elsewhere["SigningCertURL"] = "https://attacker.example.com/SimpleNotif-1.pem"
    bad_version = {**sns_signer(_sns_bounce()), "SignatureVersion": "3"}

    assert _post_sns(sns_signer(_sns_bounce()), auth=None).status_code == 401
    for body in (unsigned, tampered, elsewhere, bad_version):
        response = _post_sns(body)
        assert response.status_code == 403, body
        assert response.json()["error"] == "invalid_signature"
    settings.TIDINGS_SES_SNS_TOPIC_ARNS = ["arn:aws:sns:eu-west-1:123456789012:other"]
    assert _post_sns(sns_signer(_sns_bounce())).status_code == 403
    assert _state(ses_message) == "SENT"
    assert not CallbackOutbox.objects.exists()
    # The attacker's certificate host was never contacted (only the fake SNS host exists).
    assert all(r.path != "/attacker" for r in sns_signer.server.requests)


def test_malformed_ses_body_is_a_400(ses_message):
    response = Client().post(
        "/r/anymail/amazon_ses/tracking/", b"not json", content_type="text/plain",
        headers={"Authorization": AUTH, "x-amz-sns-message-type": "Notification"},
    )  # fmt: skip
    assert response.status_code == 400
    assert _state(ses_message) == "SENT"


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
