"""The libcurl transport (transport.py): HTTP/2 requests multiplexed on one connection,
HTTP/1.1 through http_request, errors as DeliveryErrors, and the egress guard on every
socket libcurl opens."""

from __future__ import annotations

import socket
import time
from concurrent.futures import wait

import pycurl
import pytest

from channels_app.providers.apns.fake import FakeH2Server
from channels_app.providers.base import DeliveryError
from channels_app.providers.fakes_http import FakeHTTPServer, Recorded, Reply
from channels_app.providers.http import http_request
from channels_app.providers.transport import _open_socket_guard, curl_submit, curl_wait


def _echo(request: Recorded) -> Reply:
    return Reply(status=201, body={"path": request.path}, headers={"x-seen": request.method})


def test_a_request_gets_status_headers_and_body():
    with FakeH2Server(_echo) as server:
        future = curl_submit(
            "POST", f"{server.url}/3/device/abc", body=b"{}", headers=[("a", "b")], timeout=5,
            http2=True,
        )  # fmt: skip
        response = curl_wait(future, 5)

    assert response.status_code == 201
    assert ("x-seen", "POST") in [(name.lower(), value) for name, value in response.headers]
    assert response.body == b'{"path": "/3/device/abc"}'
    assert server.requests[0].headers["a"] == "b"
    assert server.requests[0].headers["user-agent"] == "Tidings/1.0"


def test_concurrent_requests_share_one_connection():
    with FakeH2Server(_echo, reply_delay=0.3) as server:
        started = time.monotonic()
        futures = [
            curl_submit("POST", f"{server.url}/{i}", body=b"x", headers=[], timeout=5, http2=True)
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
            curl_wait(
                curl_submit("POST", f"{server.url}/slow", headers=[], timeout=0.3, http2=True), 0.3
            )

    assert caught.value.code == "timeout" and not caught.value.permanent


def test_nobody_listening_is_a_transient_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused

        with pytest.raises(DeliveryError) as caught:
            curl_wait(curl_submit("POST", f"http://127.0.0.1:{port}/", headers=[], timeout=2), 2)

    assert caught.value.code == "connection" and not caught.value.permanent
    assert "127.0.0.1" not in caught.value.reason  # libcurl's text is not passed on


def test_a_refused_destination_fails_before_any_connection(no_allowlist):
    with FakeH2Server(_echo) as server:
        with pytest.raises(DeliveryError) as caught:
            curl_submit("POST", f"{server.url}/", headers=[], timeout=2, http2=True)

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


def test_http_request_sends_what_requests_builds_and_answers_a_requests_response():
    def answer(request: Recorded) -> Reply:
        return Reply(
            status=200,
            body={"got": request.body.decode(), "type": request.headers.get("content-type")},
            headers={"Set-Cookie": "a=1"},
        )

    with FakeHTTPServer(answer) as server:
        form = http_request("POST", f"{server.url}/f", data={"k": "v w"}, params={"q": "1"})
        posted = http_request("POST", f"{server.url}/j", json={"n": 1}, headers={"X-A": "b"})
        empty = http_request("DELETE", f"{server.url}/d")

    assert form.json() == {"got": "k=v+w", "type": "application/x-www-form-urlencoded"}
    assert posted.json() == {"got": '{"n": 1}', "type": "application/json"}
    assert posted.headers["set-cookie"] == "a=1" and posted.encoding == "utf-8"
    first, second, third = server.requests
    assert (first.path, first.query) == ("/f", {"q": ["1"]})
    assert second.headers["x-a"] == "b" and second.headers["user-agent"] == "Tidings/1.0"
    # No header of libcurl's own that requests would not have sent.
    assert "expect" not in third.headers and "content-type" not in third.headers
    assert (third.method, empty.status_code) == ("DELETE", 200)


def test_http_request_classifies_the_status():
    with FakeHTTPServer(lambda r: Reply(status=429, body={}, headers={"Retry-After": "3"})) as s:
        with pytest.raises(DeliveryError) as limited:
            http_request("GET", s.url)
    with FakeHTTPServer(lambda r: Reply(status=302, body={}, headers={"Location": "/x"})) as s:
        with pytest.raises(DeliveryError) as moved:
            http_request("GET", s.url)

    assert limited.value.rate_limited and limited.value.retry_after == 3.0
    assert moved.value.permanent and moved.value.code == "redirect"
    assert len(s.requests) == 1  # the redirect was not followed


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/", "data:,x"])
def test_http_request_refuses_other_schemes_before_any_connection(url):
    with pytest.raises(DeliveryError) as caught:
        http_request("GET", url)

    assert caught.value.permanent and caught.value.code == "egress_denied"
    assert "only http and https" in caught.value.reason


def test_a_header_value_requests_refuses_is_a_permanent_bad_request():
    with pytest.raises(DeliveryError) as caught:
        http_request("GET", "http://127.0.0.1:9/", headers={"X-Bad": "a\r\nInjected: 1"})

    assert caught.value.permanent and caught.value.code == "bad_request"


def test_a_header_value_that_is_not_latin_1_is_a_permanent_bad_request():
    with FakeHTTPServer() as server:
        with pytest.raises(DeliveryError) as caught:
            http_request("GET", server.url, headers={"X-Name": "李雷"})

    assert caught.value.permanent and caught.value.code == "bad_request"
    assert server.requests == []
