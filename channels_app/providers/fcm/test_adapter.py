from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.fcm.adapter import FcmAdapter
from channels_app.providers.fcm.fake import FakeFCM, fcm_error

PROJECT = "tidings-test"
EMAIL = "firebase-adminsdk@tidings-test.iam.gserviceaccount.com"
DEVICE = "dGVzdC1kZXZpY2UtdG9rZW4tMDAwMQ:APA91bHun4MxP5egoKMwt2KZFBaFUH"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fcm(rsa_key):
    fake = FakeFCM(project_id=PROJECT, client_email=EMAIL, public_key=rsa_key.public_key())
    with FakeHTTPServer(fake) as server:
        fake.token_uri = f"{server.url}/token"
        server.fake = fake
        yield server


def _adapter(server: FakeHTTPServer, key) -> FcmAdapter:
    config = FcmAdapter.validate_config(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "client_email": EMAIL,
            "private_key": _pem(key),
            "private_key_id": "abc123",
            "token_uri": f"{server.url}/token",
        }
    )
    return FcmAdapter(config, base_url=server.url)


def _message(n: int = 1, receiver: str = DEVICE, **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"00000000-0000-0000-0000-{n:012d}",
        receiver=receiver,
        content={"title": "Order shipped", "body": "It is on its way", **content},
    )


def test_send_payload_and_provider_ids(fcm, rsa_key):
    results = _adapter(fcm, rsa_key).send(
        [_message(1, data={"order": 42, "kind": "ship"}, image="https://x.test/a.png"), _message(2)]
    )

    assert [r.provider_message_id for r in results] == [
        f"projects/{PROJECT}/messages/0:1000",
        f"projects/{PROJECT}/messages/0:1001",
    ]
    request = fcm.requests[1]
    assert request.path == f"/v1/projects/{PROJECT}/messages:send"
    assert request.json == {
        "message": {
            "token": DEVICE,
            "notification": {
                "title": "Order shipped",
                "body": "It is on its way",
                "image": "https://x.test/a.png",
            },
            "data": {
                "order": "42",
                "kind": "ship",
                "tidings_message_id": "00000000-0000-0000-0000-000000000001",
            },
        }
    }


def test_access_token_is_fetched_once_and_reused_across_adapters(fcm, rsa_key):
    _adapter(fcm, rsa_key).send([_message(1)])
    _adapter(fcm, rsa_key).send([_message(2)])

    assert fcm.fake.token_calls == 1
    assert len(fcm.fake.sent) == 2


def test_expired_access_token_is_refreshed_once(fcm, rsa_key):
    adapter = _adapter(fcm, rsa_key)
    adapter.send([_message(1)])
    fcm.fake.expire_tokens()

    [result] = adapter.send([_message(2)])

    assert result.ok
    assert fcm.fake.token_calls == 2
    assert [r.path for r in fcm.requests].count("/token") == 2


def test_token_rejected_after_refresh_is_permanent_without_looping(fcm, rsa_key):
    fcm.fake.valid_tokens = _NeverValid()
    [result] = _adapter(fcm, rsa_key).send([_message()])

    assert result.error.permanent
    assert result.error.code == "UNAUTHENTICATED"
    assert fcm.fake.token_calls == 2
    assert "ya29." not in str(result.error)


def test_wrong_private_key_is_rejected_by_the_token_endpoint(fcm):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    results = _adapter(fcm, other).send([_message(1), _message(2)])

    assert all(r.error.permanent and r.error.code == "oauth_invalid_grant" for r in results)
    assert fcm.fake.sent == []


def test_unregistered_and_invalid_tokens_are_dead_and_undelivered(fcm, rsa_key):
    fcm.fake.unregistered.add("c" * 40)

    results = _adapter(fcm, rsa_key).send(
        [_message(1, receiver="c" * 40), _message(2, receiver="short"), _message(3)]
    )

    # FCM answered: not an error to retry but an undelivered receiver, its token dead
    assert all(r.ok for r in results)
    assert results[0].undelivered.startswith("[UNREGISTERED]")
    assert results[1].undelivered.startswith("[INVALID_ARGUMENT]")
    assert results[2].undelivered == "" and results[2].provider_message_id
    assert [r.dead_token for r in results] == [True, True, False]


def test_a_payload_error_is_permanent_but_does_not_kill_the_token(fcm, rsa_key):
    [result] = _adapter(fcm, rsa_key).send([_message(1, image=5)])

    assert result.error.permanent and result.error.code == "INVALID_ARGUMENT"
    assert not result.dead_token and not result.undelivered  # google.rpc.BadRequest: ours


def test_quota_exceeded_is_rate_limited_with_retry_after(fcm, rsa_key):
    reply = fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED")
    reply.headers["Retry-After"] = "60"
    fcm.fake.fail_with = reply

    results = _adapter(fcm, rsa_key).send([_message(1), _message(2)])

    assert len([r for r in fcm.requests if r.path.endswith(":send")]) == 1
    for result in results:
        assert result.error.rate_limited
        assert result.error.retry_after == 60.0
        assert result.error.code == "QUOTA_EXCEEDED"


@pytest.mark.parametrize(
    ("status", "grpc", "code"), [(503, "UNAVAILABLE", "UNAVAILABLE"), (500, "INTERNAL", "INTERNAL")]
)
def test_server_errors_are_transient(fcm, rsa_key, status, grpc, code):
    fcm.fake.fail_with = fcm_error(status, grpc, "The service is currently unavailable.", code)

    [result] = _adapter(fcm, rsa_key).send([_message()])

    assert not result.error.permanent
    assert not result.error.rate_limited
    assert result.error.code == code


def test_timeout_is_transient(fcm, rsa_key, settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3
    fcm.fake.delay = 0.8

    results = _adapter(fcm, rsa_key).send([_message(1), _message(2)])

    assert all(r.error.code == "timeout" and not r.error.permanent for r in results)


def test_config_validation():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(serializers.ValidationError) as excinfo:
        FcmAdapter.validate_config(
            {"project_id": "X", "client_email": "nope", "private_key": _pem(ec_key)}
        )
    assert set(excinfo.value.detail) == {"project_id", "client_email", "private_key"}

    with pytest.raises(serializers.ValidationError) as excinfo:
        FcmAdapter.validate_config(
            {"project_id": PROJECT, "client_email": EMAIL, "private_key": "garbage"}
        )
    assert "private_key" in excinfo.value.detail
    assert FcmAdapter.secret_fields == ("private_key",)


def test_config_accepts_escaped_newlines(rsa_key):
    config = FcmAdapter.validate_config(
        {
            "project_id": PROJECT,
            "client_email": EMAIL,
            "private_key": _pem(rsa_key).replace("\n", "\\n"),
        }
    )
    assert "\\n" not in config["private_key"]
    assert config["token_uri"] == "https://oauth2.googleapis.com/token"


def test_content_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        FcmAdapter.validate_content("push", {"title": "", "data": [1]})
    assert set(excinfo.value.detail) == {"content.title", "content.body", "content.data"}

    FcmAdapter.validate_content("push", {"title": "t", "body": "b"})


class _NeverValid(set):
    """A token set that accepts additions but never contains anything."""

    def __contains__(self, item: object) -> bool:
        return False
