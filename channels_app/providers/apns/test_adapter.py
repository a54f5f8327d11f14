from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.apns.adapter import ApnsAdapter
from channels_app.providers.apns.fake import FakeAPNs, FakeH2Server, apns_error
from channels_app.providers.base import OutboundMessage
from channels_app.providers.tokens import cached_token
from config.redis import get_redis

TEAM, KEY_ID, BUNDLE = "TEAM123456", "KEY1234567", "com.example.app"
DEVICE = "a" * 64


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


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
def apns(ec_key):
    fake = FakeAPNs(team_id=TEAM, key_id=KEY_ID, public_key=ec_key.public_key(), bundle_id=BUNDLE)
    with FakeH2Server(fake) as server:
        server.fake = fake
        yield server


def _adapter(server, key, **overrides) -> ApnsAdapter:
    config = ApnsAdapter.validate_config(
        {"team_id": TEAM, "key_id": KEY_ID, "private_key": _pem(key), "bundle_id": BUNDLE}
        | overrides
    )
    return ApnsAdapter(config, base_url=server.url)


def _message(n: int = 1, receiver: str = DEVICE, **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"00000000-0000-4000-8000-{n:012d}",
        receiver=receiver,
        content={"title": "New reply", "body": "Ann answered you", **content},
    )


def test_send_over_http2_with_headers_payload_and_apns_id(apns, ec_key):
    results = _adapter(apns, ec_key, priority=5).send(
        [_message(1, badge=3, sound="default", subtitle="Thread", data={"thread": 7}), _message(2)]
    )

    assert [r.provider_message_id for r in results] == [
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
    ]
    first = apns.fake.sent[0]
    assert first["device"] == DEVICE
    assert first["payload"] == {
        "thread": 7,
        "aps": {
            "alert": {"title": "New reply", "body": "Ann answered you", "subtitle": "Thread"},
            "badge": 3,
            "sound": "default",
        },
    }
    headers = first["headers"]
    assert headers["apns-topic"] == BUNDLE
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "5"
    assert apns.requests[0].path == f"/3/device/{DEVICE}"
    assert apns.connections == 1  # both pushes on one multiplexed connection


def test_jwt_is_signed_es256_and_reused(apns, ec_key):
    _adapter(apns, ec_key).send([_message(1)])
    _adapter(apns, ec_key).send([_message(2)])

    assert len(apns.fake.jwts_accepted) == 1
    [token] = apns.fake.jwts_accepted
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}


def test_expired_provider_token_is_replaced_once(apns, ec_key):
    stale = jwt.encode(
        {"iss": TEAM, "iat": int(time.time()) - 3700},
        _pem(ec_key),
        algorithm="ES256",
        headers={"kid": KEY_ID},
    )
    cached_token(f"apns:{TEAM}:{KEY_ID}", lambda: (stale, 3000))

    [result] = _adapter(apns, ec_key).send([_message()])

    assert result.ok
    assert len(apns.requests) == 2
    assert apns.requests[0].headers["authorization"] == f"bearer {stale}"
    assert apns.requests[1].headers["authorization"] != f"bearer {stale}"


def test_an_adapter_reads_the_shared_token_once_and_forgets_a_rejected_one(apns, ec_key):
    name = f"apns:{TEAM}:{KEY_ID}"
    adapter = _adapter(apns, ec_key)
    first = adapter.provider_token(name, lambda: ("first", 3000))
    cache.set(f"tidings:token:{name}", "refreshed-elsewhere", 300)

    # One adapter serves one batch: it does not go back to Redis for every push...
    assert adapter.provider_token(name, lambda: ("unused", 3000)) == first == "first"
    # ...while the next batch's adapter sees what another worker stored.
    assert _adapter(apns, ec_key).provider_token(name, lambda: ("unused", 3000)) == (
        "refreshed-elsewhere"
    )
    adapter.provider_token_rejected(name, "first")
    assert adapter.provider_token(name, lambda: ("unused", 3000)) == "refreshed-elsewhere"


def _redis_gets() -> int:
    stats = get_redis().info("commandstats")
    return stats.get("cmdstat_get", {}).get("calls", 0)


def test_the_runner_threads_of_a_batch_read_the_shared_token_once(apns, ec_key):
    """64 calls start together: one reads (and here fetches) the token, the others wait for
    it instead of each going to Redis, each on a connection of its own thread."""
    name = f"apns:{TEAM}:{KEY_ID}"
    cache.delete(f"tidings:token:{name}")
    adapter, start = _adapter(apns, ec_key), threading.Barrier(64)
    fetched: list[int] = []

    def fetch() -> tuple[str, int]:
        fetched.append(1)
        time.sleep(0.05)  # signing or a token endpoint: the other threads arrive meanwhile
        return "shared", 3000

    def call() -> str:
        start.wait()
        return adapter.provider_token(name, fetch)

    before = _redis_gets()
    with ThreadPoolExecutor(64) as pool:
        tokens = list(pool.map(lambda _: call(), range(64)))
    assert tokens == ["shared"] * 64 and len(fetched) == 1
    assert _redis_gets() - before == 1


def test_wrong_key_is_invalid_provider_token_for_the_whole_batch(apns):
    other = ec.generate_private_key(ec.SECP256R1())

    results = _adapter(apns, other).send([_message(1), _message(2)])

    assert len(apns.requests) == 1
    assert all(r.error.permanent and r.error.code == "InvalidProviderToken" for r in results)


def test_bad_and_unregistered_device_tokens_are_dead_and_undelivered(apns, ec_key):
    apns.fake.unregistered.add("b" * 64)

    results = _adapter(apns, ec_key).send(
        [_message(1, receiver="not-hex"), _message(2, receiver="b" * 64), _message(3)]
    )

    # Apple answered: not an error to retry but an undelivered receiver, its token dead
    assert all(r.ok for r in results)
    assert results[0].undelivered.startswith("[BadDeviceToken]")
    assert results[1].undelivered.startswith("[Unregistered]")
    assert results[2].undelivered == ""
    assert [r.dead_token for r in results] == [True, True, False]


def test_wrong_topic_is_permanent(apns, ec_key):
    [result] = _adapter(apns, ec_key, bundle_id="com.other.app").send([_message()])

    assert result.error.permanent
    assert result.error.code == "TopicDisallowed"


def test_too_many_requests_is_rate_limited_per_device(apns, ec_key):
    reply = apns_error(429, "TooManyRequests")
    reply.headers["retry-after"] = "5"
    apns.fake.fail_with = reply

    results = _adapter(apns, ec_key).send([_message(1), _message(2, receiver="c" * 64)])

    assert len(apns.requests) == 2  # per device token: the next device is still tried
    for result in results:
        assert result.error.rate_limited
        assert not result.error.permanent
        assert result.error.code == "TooManyRequests"
        assert result.error.retry_after == 5.0


@pytest.mark.parametrize(
    ("status", "reason"), [(500, "InternalServerError"), (503, "ServiceUnavailable")]
)
def test_server_errors_are_transient(apns, ec_key, status, reason):
    apns.fake.fail_with = apns_error(status, reason)

    [result] = _adapter(apns, ec_key).send([_message()])

    assert not result.error.permanent
    assert result.error.code == reason


def test_timeout_is_transient_and_does_not_stop_the_batch(apns, ec_key, settings):
    # One slow stream says nothing of the others on the connection (as for every provider,
    # base.ACCOUNT_WIDE_CODES): a provider that times out on every call opens the breaker.
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3
    apns.fake.delay = 0.8

    results = _adapter(apns, ec_key).send([_message(1), _message(2)])

    assert len(apns.requests) == 2
    assert all(r.error.code == "timeout" and not r.error.permanent for r in results)


def test_payload_over_4k_is_refused_before_sending(apns, ec_key):
    [result] = _adapter(apns, ec_key).send([_message(body="x" * 5000)])

    assert result.error.permanent
    assert result.error.code == "PayloadTooLarge"
    assert apns.requests == []


def test_development_environment_uses_the_sandbox_host(ec_key):
    config = ApnsAdapter.validate_config(
        {
            "team_id": TEAM,
            "key_id": KEY_ID,
            "private_key": _pem(ec_key),
            "bundle_id": BUNDLE,
            "environment": "development",
        }
    )
    assert ApnsAdapter(config).base_url == "https://api.sandbox.push.apple.com"
    assert ApnsAdapter({**config, "environment": "production"}).base_url == (
        "https://api.push.apple.com"
    )


def test_config_validation():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(serializers.ValidationError) as excinfo:
        ApnsAdapter.validate_config(
            {"team_id": "short", "key_id": "x", "private_key": _pem(rsa_key), "priority": 7}
        )
    assert set(excinfo.value.detail) == {
        "team_id",
        "key_id",
        "private_key",
        "bundle_id",
        "priority",
    }
    assert ApnsAdapter.secret_fields == ("private_key",)


def test_content_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        ApnsAdapter.validate_content("push", {"title": "t", "badge": -1, "data": {"aps": 1}})
    assert set(excinfo.value.detail) == {"content.body", "content.badge", "content.data"}

    ApnsAdapter.validate_content("push", {"title": "t", "body": "b", "badge": 0})
