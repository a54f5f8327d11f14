from __future__ import annotations

import time

import pytest
from rest_framework import serializers

from channels_app.providers.apprise.adapter import AppriseAdapter, parse_entry
from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply


@pytest.fixture
def fake_http():
    with FakeHTTPServer() as server:
        yield server


def _message(n: int = 1, receiver: str = "*", **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"msg-{n}",
        receiver=receiver,
        content={"title": "Disk almost full", "body": f"db-{n} at 91%", **content},
    )


def _json_url(server: FakeHTTPServer, path: str = "/hooks/alerts") -> str:
    return "json://" + server.url.removeprefix("http://") + path


def _adapter(*urls: str) -> AppriseAdapter:
    return AppriseAdapter(AppriseAdapter.validate_config({"urls": list(urls)}))


def test_body_and_title_arrive_at_json_endpoint(fake_http):
    results = _adapter(_json_url(fake_http)).send([_message(1), _message(2, type="warning")])

    assert [r.ok for r in results] == [True, True]
    assert results[0].provider_message_id == "msg-1"
    first, second = fake_http.requests
    assert first.method == "POST"
    assert first.path == "/hooks/alerts"
    assert first.json["title"] == "Disk almost full"
    assert first.json["message"] == "db-1 at 91%"
    assert first.json["type"] == "info"
    assert second.json["message"] == "db-2 at 91%"
    assert second.json["type"] == "warning"


def test_one_apprise_object_serves_a_with_block(fake_http):
    adapter = _adapter(_json_url(fake_http))

    with adapter:
        results = [*adapter.send([_message(1)]), *adapter.send([_message(2)])]
        # Requests one after another share the Apprise object built when the block opened.
        assert len(adapter._pool._all) == 1

    assert [r.ok for r in results] == [True, True]
    assert adapter.batch_size == 1
    assert [r.json["message"] for r in fake_http.requests] == ["db-1 at 91%", "db-2 at 91%"]


def test_server_error_is_transient():
    with FakeHTTPServer(lambda r: Reply(status=500, body={"error": "boom"})) as server:
        [result] = _adapter(_json_url(server)).send([_message()])

    assert not result.ok
    assert not result.error.permanent
    assert result.error.code == "apprise"


def test_unreachable_service_is_transient():
    with FakeHTTPServer() as server:
        url = _json_url(server)
    [result] = _adapter(url).send([_message()])

    assert not result.error.permanent


def test_receiver_selects_services_by_tag():
    with FakeHTTPServer() as ops, FakeHTTPServer() as dev:
        adapter = _adapter(f"ops, oncall={_json_url(ops)}", f"dev={_json_url(dev)}")

        results = adapter.send(
            [
                _message(1, receiver="ops"),
                _message(2, receiver="dev"),
                _message(3, receiver="*"),
                _message(4, receiver="oncall,dev"),
            ]
        )

        assert [r.ok for r in results] == [True, True, True, True]
        assert [r.json["message"] for r in ops.requests] == [
            "db-1 at 91%",
            "db-3 at 91%",
            "db-4 at 91%",
        ]
        assert sorted(r.json["message"] for r in dev.requests) == [
            "db-2 at 91%",
            "db-3 at 91%",
            "db-4 at 91%",
        ]


def test_unknown_tag_is_permanent(fake_http):
    [result] = _adapter(f"ops={_json_url(fake_http)}").send([_message(receiver="sales")])

    assert result.error.permanent
    assert result.error.code == "no_match"
    assert fake_http.requests == []


def test_invalid_receiver_is_permanent(fake_http):
    [result] = _adapter(_json_url(fake_http)).send([_message(receiver="ops:2")])

    assert result.error.permanent
    assert result.error.code == "receiver"


def test_platform_timeout_applies(settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3

    def slow(request):
        time.sleep(1.5)
        return Reply()

    with FakeHTTPServer(slow) as server:
        started = time.monotonic()
        [result] = _adapter(_json_url(server)).send([_message()])
        elapsed = time.monotonic() - started

    assert not result.ok
    assert not result.error.permanent
    assert elapsed < 1.4


def test_config_rejects_unknown_and_local_urls_without_echoing_them():
    with pytest.raises(serializers.ValidationError) as info:
        AppriseAdapter.validate_config(
            {"urls": ["nosuchscheme://secret-token@x", "windows://", "not a url"]}
        )

    errors = info.value.detail["urls"]
    assert set(errors) == {0, 1, 2}
    assert "secret-token" not in str(info.value.detail)
    with pytest.raises(serializers.ValidationError):
        AppriseAdapter.validate_config({"urls": []})


def test_parse_entry():
    assert parse_entry("json://h/p?a=b") == ([], "json://h/p?a=b")
    assert parse_entry(" ops, dev = jsons://h/p ") == (["ops", "dev"], "jsons://h/p")


def test_validate_content_and_metadata():
    with pytest.raises(serializers.ValidationError) as info:
        AppriseAdapter.validate_content("other", {"title": 3, "format": "rtf", "type": "x"})

    assert set(info.value.detail) == {
        "content.body",
        "content.title",
        "content.format",
        "content.type",
    }
    AppriseAdapter.validate_content("other", {"body": "hi", "format": "markdown"})
    assert AppriseAdapter.channels == ("other",)
    assert AppriseAdapter.secret_fields == ("urls",)
