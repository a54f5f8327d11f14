from __future__ import annotations

import hashlib

import pytest
from django.core.cache import cache
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.getui.adapter import GetuiAdapter
from channels_app.providers.getui.fake import FakeGetui, getui

APP = {"app_id": "GxAppId01", "app_key": "GxAppKey01", "master_secret": "GxMasterSecret01"}


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def gt():
    fake = FakeGetui(**APP)
    with FakeHTTPServer(fake) as server:
        server.fake = fake
        yield server


def _adapter(server: FakeHTTPServer, **overrides) -> GetuiAdapter:
    return GetuiAdapter(GetuiAdapter.validate_config({**APP, **overrides}), base_url=server.url)


def _message(n: int, cid: str, title: str = "Sale", **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"00000000-0000-0000-0000-{n:012d}",
        receiver=cid,
        content={"title": title, "body": "50% off today", **content},
    )


def _paths(server: FakeHTTPServer) -> list[str]:
    return [r.path.removeprefix("/v2/GxAppId01") for r in server.requests]


def test_single_push_payload_and_taskid(gt):
    [result] = _adapter(gt, ttl_seconds=600).send(
        [_message(1, "cid-a", click_type="url", url="https://shop.test/sale")]
    )

    assert _paths(gt) == ["/auth", "/push/single/cid"]
    request = gt.requests[1]
    assert request.headers["token"] in gt.fake.valid_tokens
    assert request.json == {
        "request_id": hashlib.sha256(b"00000000-0000-0000-0000-000000000001").hexdigest()[:32],
        "settings": {"ttl": 600000},
        "audience": {"cid": ["cid-a"]},
        "push_message": {
            "notification": {
                "title": "Sale",
                "body": "50% off today",
                "click_type": "url",
                "url": "https://shop.test/sale",
            }
        },
    }
    assert result.provider_message_id.startswith("RASS_")
    assert gt.fake.pushed[0]["cid"] == "cid-a"


def test_identical_content_goes_as_one_list_task_and_results_keep_order(gt):
    messages = [
        _message(1, "cid-a"),
        _message(2, "cid-solo", title="Other"),
        _message(3, "cid-b"),
        _message(4, "cid-c"),
    ]

    results = _adapter(gt).send(messages)

    assert _paths(gt) == ["/auth", "/push/list/message", "/push/list/cid", "/push/single/cid"]
    assert gt.requests[2].json["audience"] == {"cid": ["cid-a", "cid-b", "cid-c"]}
    assert gt.requests[2].json["is_async"] is False
    list_task = results[0].provider_message_id
    assert list_task.startswith("RASL_")
    assert [r.provider_message_id for r in results] == [
        list_task,
        results[1].provider_message_id,
        list_task,
        list_task,
    ]
    assert results[1].provider_message_id.startswith("RASS_")
    assert {p["cid"] for p in gt.fake.pushed} == {"cid-a", "cid-b", "cid-c", "cid-solo"}


def test_token_is_fetched_once_for_two_sends(gt):
    _adapter(gt).send([_message(1, "cid-a")])
    _adapter(gt).send([_message(2, "cid-b")])

    assert gt.fake.auth_calls == 1
    assert len(gt.fake.pushed) == 2


def test_invalid_token_is_refreshed_once(gt):
    adapter = _adapter(gt)
    adapter.send([_message(1, "cid-a")])
    gt.fake.expire_tokens()

    [result] = adapter.send([_message(2, "cid-b")])

    assert result.ok
    assert gt.fake.auth_calls == 2
    assert _paths(gt)[2:] == ["/push/single/cid", "/auth", "/push/single/cid"]


def test_wrong_master_secret_fails_auth_permanently(gt):
    results = _adapter(gt, master_secret="wrong").send([_message(1, "a"), _message(2, "b", "x")])

    assert _paths(gt) == ["/auth"]
    for result in results:
        assert result.error.permanent
        assert result.error.code == "auth_failed"
        assert "wrong" not in str(result.error)


def test_per_cid_refusals_are_permanent(gt):
    gt.fake.statuses = {"cid-old": "successed_ignore", "cid-none": "no_user"}

    results = _adapter(gt).send(
        [_message(1, "cid-old"), _message(2, "cid-none"), _message(3, "ok")]
    )

    assert results[0].error.permanent
    assert results[0].error.code == "successed_ignore"
    assert results[1].error.permanent
    assert results[1].error.code == "no_user"
    assert results[2].ok


def test_rate_limit_code_is_rate_limited(gt):
    gt.fake.fail_with = getui(10005, "每分钟调用频率超限")

    results = _adapter(gt).send([_message(1, "a"), _message(2, "b", title="Other")])

    assert _paths(gt) == ["/auth", "/push/single/cid"]  # the second group is not tried
    for result in results:
        assert result.error.rate_limited
        assert result.error.retry_after == 60.0
        assert result.error.code == "10005"


def test_parameter_error_is_permanent(gt):
    [result] = _adapter(gt).send([_message(1, "cid-a", title="t" * 60)])

    assert result.error.permanent
    assert result.error.code == "20001"


def test_internal_error_and_5xx_are_transient(gt):
    gt.fake.fail_with = getui(50000, "系统内部异常")
    [result] = _adapter(gt).send([_message(1, "a")])
    assert not result.error.permanent
    assert result.error.code == "50000"

    from channels_app.providers.fakes_http import Reply

    gt.fake.fail_with = Reply(status=503, body=b"Service Unavailable")
    [result] = _adapter(gt).send([_message(2, "a")])
    assert not result.error.permanent
    assert result.error.code == "503"


def test_timeout_is_transient(gt, settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3
    _adapter(gt).send([_message(1, "warm-up")])  # auth answers quickly
    gt.fake.delay = 0.8

    [result] = _adapter(gt).send([_message(2, "a")])

    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_config_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        GetuiAdapter.validate_config({"app_id": "x", "ttl_seconds": -1})
    assert set(excinfo.value.detail) == {"app_key", "master_secret", "ttl_seconds"}
    assert GetuiAdapter.secret_fields == ("master_secret",)


def test_content_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        GetuiAdapter.validate_content("push", {"title": "t", "click_type": "teleport"})
    assert set(excinfo.value.detail) == {"content.body", "content.click_type"}

    with pytest.raises(serializers.ValidationError) as excinfo:
        GetuiAdapter.validate_content("push", {"title": "t", "body": "b", "click_type": "url"})
    assert "content.url" in excinfo.value.detail

    GetuiAdapter.validate_content("push", {"title": "t", "body": "b"})
