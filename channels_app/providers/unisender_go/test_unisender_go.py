"""Unisender Go answers 200 even when it sends nothing: an address it refuses (unsubscribed,
invalid, unavailable) is listed under `failed_emails` instead of `emails`."""

from __future__ import annotations

import pytest

from channels_app.providers.base import OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.unisender_go.adapter import UnisenderGoAdapter
from channels_app.providers.unisender_go.fake import FakeUnisenderGo


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        # anymail maps these to "rejected" / "invalid" and raises AnymailRecipientsRefused
        ("unsubscribed", "recipient_refused"),
        ("invalid", "recipient_refused"),
        ("permanent_unavailable", "recipient_refused"),
        # ...and this one to "failed": a 200 with nothing sent
        ("temporary_unavailable", "not_sent"),
    ],
)
def test_an_address_unisender_go_refuses_is_a_permanent_failure(reason, code):
    fake = FakeUnisenderGo()
    fake.failed_emails["gone@example.com"] = reason
    message = OutboundMessage(
        id=1, message_id="msg-1", receiver="gone@example.com",
        content={"subject": "Hello", "text": "plain body"},
    )  # fmt: skip
    with FakeHTTPServer(fake) as server:
        config = UnisenderGoAdapter.validate_config(fake.config)
        adapter = UnisenderGoAdapter(config, base_url=server.url + fake.api_root)
        [result] = adapter.send([message])

    assert result.error is not None and result.error.permanent
    assert result.error.code == code
    assert fake.accepted == []
