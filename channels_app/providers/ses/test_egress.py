"""SES sends through boto3, not http_request: its endpoint is checked by the egress policy
before boto3 connects."""

from __future__ import annotations

import pytest

from channels_app.providers.base import DeliveryError, OutboundMessage
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.ses.adapter import SesAdapter


def _email(n: int = 1) -> OutboundMessage:
    return OutboundMessage(
        id=n, message_id=f"m-{n}", receiver="ann@example.com", content={"subject": "s", "text": "t"}
    )


def test_ses_endpoint_is_checked_before_boto3_connects(no_allowlist):
    config = SesAdapter.validate_config(
        {
            "region": "us-east-1",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "x" * 40,
            "from_email": "a@acme.test",
        }
    )
    with FakeHTTPServer() as server:
        with pytest.raises(DeliveryError) as info:
            SesAdapter(config, base_url=server.url).send([_email()])

    assert info.value.code == "egress_denied"
    assert info.value.permanent
    assert server.requests == []
