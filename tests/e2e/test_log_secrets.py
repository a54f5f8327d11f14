"""A real worker, logging at DEBUG, sends through accounts that carry secrets (webhook
header, signing secret, ?token= in the URL, a Telegram bot token in the path) and fail in
every way (5xx that echoes the request, timeout, an adapter crash whose exception quotes a
header value). Its whole log output must not contain a single secret."""

from __future__ import annotations

import time

import pytest

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import FakeHTTPServer, Recorded, Reply
from templates_app.models import MessageTemplate
from tests.e2e.conftest import wait_until
from tracking.models import Message

pytestmark = pytest.mark.e2e

HEADER_SECRET = "hdr-secret-7f3a9c1e55"
SIGNING_SECRET = "sign-secret-2b8d4e6f77"
QUERY_TOKEN = "qtoken-5c1e7a9b3d11"
BOT_TOKEN = "987654321:AAbotsecret-9e8d7c6b5a4f3e2d1c"
CRASH_SECRET = "crash-secret-4d2c8b1a99"
SECRETS = [HEADER_SECRET, SIGNING_SECRET, QUERY_TOKEN, BOT_TOKEN, CRASH_SECRET]


def _echo_500(request: Recorded) -> Reply:
    """A provider that quotes the whole request back in its error: the worst case."""
    return Reply(500, {"error": "bad auth", "path": request.path, "query": request.query,
                       "headers": request.headers, "description": f"token {request.path}"})  # fmt: skip


def _slow(request: Recorded) -> Reply:
    time.sleep(3)
    return Reply(200, {"ok": True})


def _account_and_template(tenant, name, provider, channel, config, base_url=""):
    account = ChannelAccount.objects.create(
        app=tenant, name=name, channel=channel, provider=provider, config=config,
        base_url=base_url,
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=tenant, name=name, code=name, channel=channel, receiver_type="any",
        channel_account=account, content={"text": "hello {$name}"},
    )  # fmt: skip


def test_worker_logs_carry_no_secrets(start_worker, api, tenant):
    with (
        FakeHTTPServer(_echo_500) as failing,
        FakeHTTPServer(_slow) as slow,
    ):
        _account_and_template(tenant, "hook-5xx", "webhook", "webhook", {
            "url": f"{failing.url}/in?token={QUERY_TOKEN}", "secret": SIGNING_SECRET,
            "headers": {"X-Custom-Auth": HEADER_SECRET, "Authorization": f"Bearer {HEADER_SECRET}"},
        })  # fmt: skip
        _account_and_template(tenant, "hook-timeout", "webhook", "webhook", {
            "url": f"{slow.url}/in?access_token={QUERY_TOKEN}",
            "headers": {"X-Custom-Auth": HEADER_SECRET},
        })  # fmt: skip
        # A header value requests refuses with an error that quotes the value: the request
        # cannot be built (a permanent failure that names only the error's type).
        _account_and_template(tenant, "hook-crash", "webhook", "webhook", {
            "url": f"{failing.url}/in",
            "headers": {"X-Custom-Auth": f"{CRASH_SECRET}\nX-Injected: 1"},
        })  # fmt: skip
        _account_and_template(tenant, "tg", "telegram", "telegram", {"bot_token": BOT_TOKEN},
                              base_url=failing.url)  # fmt: skip

        worker = start_worker(
            TIDINGS_LOG_LEVEL="DEBUG",
            TIDINGS_MAX_ATTEMPTS="2",
            TIDINGS_PROVIDER_TIMEOUT_SECONDS="1",
            TIDINGS_EGRESS_ALLOWLIST="127.0.0.1",
        )
        ids = []
        for code in ("hook-5xx", "hook-timeout", "hook-crash", "tg"):
            response = api.post(
                "/api/v1/send",
                {"template": code, "receivers": ["r-1"], "variables": {"name": "Ada"}},
                format="json",
            )
            assert response.status_code == 202, response.content
            ids.append(response.json()["messages"][0]["message_id"])

        def finished() -> bool:
            return Message.objects.filter(
                message_id__in=ids, state__in=["FAILED", "SENT"]
            ).count() == len(ids)

        assert wait_until(finished, timeout=90), list(
            Message.objects.filter(message_id__in=ids).values_list("state", "last_error")
        )
        worker.stop()

    log = "".join(worker.log)
    # The failures did happen and were logged (so this test can fail) ...
    crash = Message.objects.get(message_id=ids[2])
    assert crash.state == "FAILED" and "InvalidHeader" in crash.last_error, crash.last_error
    assert CRASH_SECRET not in crash.last_error
    assert len(failing.requests) >= 3 and slow.requests
    # ... and no secret, nor the bot token's secret half, reached the log.
    leaked = [s for s in [*SECRETS, BOT_TOKEN.split(":")[1]] if s in log]
    assert not leaked, [line for line in worker.log if any(s in line for s in leaked)][:10]
