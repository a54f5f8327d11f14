from __future__ import annotations

import pytest
from rest_framework import serializers

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.slack.adapter import SlackAdapter
from channels_app.providers.slack.fake import FakeSlackWebhook

PATH = "/services/T0001/B0001/secret-token"


def _message(n: int = 1, **content) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"00000000-0000-0000-0000-{n:012d}",
        receiver="#alerts",
        content=content or {"text": "deploy done"},
    )


@pytest.fixture
def slack():
    fake = FakeSlackWebhook(PATH)
    with FakeHTTPServer(fake) as server:
        server.fake = fake
        yield server


def _adapter(server: FakeHTTPServer, **config) -> SlackAdapter:
    config = SlackAdapter.validate_config(config or {"path": PATH})
    return SlackAdapter(config, base_url=server.url)


def test_send_posts_text_and_blocks(slack):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]

    results = _adapter(slack).send([_message(1, text="deploy done", blocks=blocks), _message(2)])

    assert [r.ok for r in results] == [True, True]
    assert results[0].provider_message_id == "00000000-0000-0000-0000-000000000001"
    assert slack.requests[0].path == PATH
    assert slack.requests[0].json == {"text": "deploy done", "blocks": blocks}
    assert len(slack.fake.posted) == 2


def test_base_url_replaces_the_host_of_webhook_url(slack):
    adapter = _adapter(slack, webhook_url=f"https://hooks.slack.com{PATH}")

    [result] = adapter.send([_message()])

    assert result.ok
    assert slack.requests[0].path == PATH


def test_webhook_url_is_used_as_is_without_base_url():
    config = SlackAdapter.validate_config({"webhook_url": f"https://hooks.slack.com{PATH}"})
    assert SlackAdapter(config).url == f"https://hooks.slack.com{PATH}"


def test_bad_payload_fails_only_that_message(slack):
    results = _adapter(slack).send([_message(1, blocks=[{"text": "no type"}]), _message(2)])

    assert results[0].error.permanent
    assert results[0].error.code == "invalid_blocks"
    assert results[1].ok


def test_wrong_token_and_unknown_webhook_are_permanent_for_the_whole_batch(slack):
    config = SlackAdapter.validate_config({"path": "/services/T0001/B0001/wrong"})
    results = SlackAdapter(config, base_url=slack.url).send([_message(1), _message(2)])

    assert len(slack.requests) == 1
    assert all(r.error.permanent and r.error.code == "invalid_token" for r in results)
    assert "wrong" not in str(results[0].error)

    config = SlackAdapter.validate_config({"path": "/services/T9/B9/secret-token"})
    [result] = SlackAdapter(config, base_url=slack.url).send([_message()])
    assert result.error.permanent
    assert result.error.code == "no_service"


def test_rate_limit_uses_retry_after(slack):
    slack.fake.retry_after = 30

    results = _adapter(slack).send([_message(1), _message(2)])

    assert len(slack.requests) == 1
    for result in results:
        assert result.error.rate_limited
        assert result.error.retry_after == 30.0
        assert not result.error.permanent


def test_server_error_is_transient():
    with FakeHTTPServer(lambda r: Reply(status=500, body=b"internal_error")) as server:
        [result] = _adapter(server).send([_message()])

    assert not result.error.permanent
    assert result.error.code == "internal_error"


def test_timeout_is_transient(slack, settings):
    settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS = 0.3
    slack.fake.delay = 0.8

    [result] = _adapter(slack).send([_message()])

    assert result.error.code == "timeout"
    assert not result.error.permanent


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "webhook_url"),
        ({"webhook_url": "https://hooks.slack.com/x", "path": PATH}, "webhook_url"),
        ({"webhook_url": "http://hooks.slack.com/services/T1/B1/x"}, "webhook_url"),
        ({"path": "/api/chat.postMessage"}, "path"),
    ],
)
def test_config_validation(config, field):
    with pytest.raises(serializers.ValidationError) as excinfo:
        SlackAdapter.validate_config(config)
    assert field in excinfo.value.detail


def test_content_validation():
    with pytest.raises(serializers.ValidationError) as excinfo:
        SlackAdapter.validate_content("slack", {"text": ""})
    assert "content.text" in excinfo.value.detail

    with pytest.raises(serializers.ValidationError) as excinfo:
        SlackAdapter.validate_content("slack", {"blocks": "nope"})
    assert "content.blocks" in excinfo.value.detail

    SlackAdapter.validate_content("slack", {"blocks": [{"type": "divider"}]})
