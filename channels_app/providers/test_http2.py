"""The HTTP/2 path (http2.py): many requests multiplexed on one connection, errors as
DeliveryErrors, and the egress guard on every socket libcurl opens."""

from __future__ import annotations

import socket
import time
from concurrent.futures import wait

import pycurl
import pytest

from channels_app.providers.apns.fake import FakeH2Server
from channels_app.providers.base import DeliveryError
from channels_app.providers.fakes_http import Recorded, Reply
from channels_app.providers.http2 import _open_socket_guard, h2_request, h2_submit


def _echo(request: Recorded) -> Reply:
    return Reply(status=201, body={"path": request.path}, headers={"x-seen": request.method})


def test_a_request_gets_status_headers_and_body():
    with FakeH2Server(_echo) as server:
        response = h2_request(
            "POST", f"{server.url}/3/device/abc", body=b"{}", headers={"a": "b"}, timeout=5
        )

    assert response.status_code == 201
    assert response.headers["x-seen"] == "POST"
    assert response.json() == {"path": "/3/device/abc"}
    assert server.requests[0].headers["a"] == "b"
    assert server.requests[0].headers["user-agent"] == "Tidings/1.0"


def test_concurrent_requests_share_one_connection():
    with FakeH2Server(_echo, reply_delay=0.3) as server:
        started = time.monotonic()
        futures = [
            h2_submit("POST", f"{server.url}/{i}", body=b"x", headers={}, timeout=5)
            for i in range(100)
        ]
        wait(futures, timeout=10)
        elapsed = time.monotonic() - started

    assert [f.result().status_code for f in futures] == [201] * 100
    # All 100 in flight at once over one connection: about one reply delay, not 100.
    assert elapsed < 2.0
    assert server.connections == 1


def test_a_slow_answer_is_a_transient_timeout():
    with FakeH2Server(_echo, reply_delay=2) as server:
        with pytest.raises(DeliveryError) as caught:
            h2_request("POST", f"{server.url}/slow", headers={}, timeout=0.3)

    assert caught.value.code == "timeout" and not caught.value.permanent


def test_nobody_listening_is_a_transient_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused

        with pytest.raises(DeliveryError) as caught:
            h2_request("POST", f"http://127.0.0.1:{port}/", headers={}, timeout=2)

    assert caught.value.code == "connection" and not caught.value.permanent
    assert "127.0.0.1" not in caught.value.reason  # libcurl's text is not passed on


def test_a_refused_destination_fails_before_any_connection(no_allowlist):
    with FakeH2Server(_echo) as server:
        with pytest.raises(DeliveryError) as caught:
            h2_request("POST", f"{server.url}/", headers={}, timeout=2)

    assert caught.value.code == "egress_denied" and caught.value.permanent
    assert server.connections == 0


def test_libcurl_may_open_a_socket_only_to_the_checked_address():
    guard = _open_socket_guard("127.0.0.1", 443)
    tcp = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)

    assert guard(0, (*tcp, ("10.0.0.7", 443))) == pycurl.SOCKET_BAD
    assert guard(0, (*tcp, ("127.0.0.1", 8443))) == pycurl.SOCKET_BAD
    opened = guard(0, (*tcp, ("127.0.0.1", 443)))
    assert isinstance(opened, socket.socket)
    opened.close()
