"""Amazon SES receipts through SNS and the anymail webhook: the SNS message signature is
verified (anymail does not); forged or malformed posts are refused and move nothing."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.test import Client

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.ses.receipts import sns_string_to_sign
from tracking.models import CallbackOutbox, Message

SECRET = "anymail:test-webhook-secret"
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()


def _state(message: Message) -> str:
    return Message.objects.get(pk=message.pk).state


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
