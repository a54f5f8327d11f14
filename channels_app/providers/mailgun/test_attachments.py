"""channels_app/providers/attachments.py: the egress policy on attachment URLs and the fetch
limits (shared by every email adapter). The test settings allowlist loopback for the local
servers; `no_allowlist` takes that away."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest
from django.core.mail import EmailMultiAlternatives

from channels_app.providers import attachments, egress
from channels_app.providers.attachments import attach_from_content, fetch_attachment
from channels_app.providers.base import DeliveryError
from channels_app.providers.egress import is_public_address
from channels_app.providers.fakes_http import FakeHTTPServer, Reply


@pytest.fixture
def no_allowlist(settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.pdf",
        "http://localhost:8000/a.pdf",
        "http://[::1]/a.pdf",
        "http://10.1.2.3/a.pdf",
        "http://192.168.1.10/a.pdf",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/a.pdf",
        "http://[::ffff:a9fe:a9fe]/a.pdf",
        "http://[fe80::1]/a.pdf",
        "http://[fc00::1]/a.pdf",
        "http://0.0.0.0/a.pdf",
        "http://224.0.0.1/a.pdf",
        "http://100.64.0.1/a.pdf",
        "http://2130706433/a.pdf",
        "http://[64:ff9b::7f00:1]/a.pdf",
    ],
)
def test_private_and_reserved_hosts_are_refused(no_allowlist, url):
    with pytest.raises(DeliveryError) as info:
        fetch_attachment(url, filename="report.pdf")

    assert info.value.permanent
    assert info.value.code == "egress_denied"
    assert "report.pdf" in info.value.reason
    assert "refused" in info.value.reason


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.pdf", "gopher://example.com/", "data:,x"]
)
def test_non_http_schemes_are_refused(url):
    with pytest.raises(DeliveryError) as info:
        fetch_attachment(url)

    assert info.value.permanent
    assert info.value.code == "egress_denied"
    assert "only http and https" in info.value.reason


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::1", False),  # 6to4 wrapping 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo wrapping 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 wrapping 169.254.169.254
        ("64:ff9b::808:808", True),  # NAT64 wrapping 8.8.8.8
        ("::ffff:8.8.8.8", True),
        ("fe80::1%eth0", False),
        ("198.18.0.1", False),
    ],
)
def test_is_public_address(address, public):
    assert is_public_address(address) is public


def test_fetches_from_local_server_when_the_operator_allowlists_it():
    with FakeHTTPServer(
        lambda r: Reply(body=b"hello", headers={"Content-Type": "text/csv; charset=utf-8"})
    ) as files:
        attachment = fetch_attachment(f"{files.url}/exports/data.csv?token=abc")

    assert attachment.filename == "data.csv"
    assert attachment.mimetype == "text/csv"
    assert attachment.content == b"hello"
    [request] = files.requests
    assert request.path == "/exports/data.csv"
    assert request.query == {"token": ["abc"]}
    assert request.headers["host"] == files.url.removeprefix("http://")


def test_local_server_is_refused_by_default(no_allowlist):
    with FakeHTTPServer(lambda r: Reply(body=b"secret")) as files:
        with pytest.raises(DeliveryError) as info:
            fetch_attachment(f"{files.url}/a.txt")

    assert info.value.code == "egress_denied"
    assert "127.0.0.1" in info.value.reason

    assert files.requests == []


def test_http_error_is_a_permanent_failure_without_the_url():
    with FakeHTTPServer(lambda r: Reply(status=503, body=b"down")) as files:
        with pytest.raises(DeliveryError) as info:
            fetch_attachment(f"{files.url}/a.pdf?token=s3cr3t")

    assert info.value.permanent
    assert "HTTP 503" in info.value.reason
    assert "s3cr3t" not in str(info.value)


def test_size_cap_from_content_length(settings):
    settings.TIDINGS_ATTACHMENT_MAX_BYTES = 1000
    with FakeHTTPServer(lambda r: Reply(body=b"x" * 1001)) as files:
        with pytest.raises(DeliveryError) as info:
            fetch_attachment(f"{files.url}/big.bin")
        small = fetch_attachment(f"{files.url}/big.bin", max_bytes=2000)

    assert "larger than 1000 bytes" in info.value.reason
    assert len(small.content) == 1001


class _NoLengthHandler(socketserver.StreamRequestHandler):
    """Answers with a body and no Content-Length, as a streaming server would."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y" * 5000)


def test_size_cap_while_streaming_without_content_length():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NoLengthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stream"
        with pytest.raises(DeliveryError) as info:
            fetch_attachment(url, max_bytes=4096)
        whole = fetch_attachment(url, max_bytes=8192)
    finally:
        server.shutdown()
        server.server_close()

    assert "larger than 4096 bytes" in info.value.reason
    assert whole.content == b"y" * 5000


@pytest.mark.parametrize(
    "location",
    [
        "http://10.1.2.3/internal",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/x",
        "file:///etc/passwd",
    ],
)
def test_redirect_to_private_address_is_refused(location):
    # given an allowed first hop (loopback is allowlisted in tests) redirecting inward
    with FakeHTTPServer(
        lambda r: Reply(status=302, body=b"", headers={"Location": location})
    ) as files:
        # when
        with pytest.raises(DeliveryError) as info:
            fetch_attachment(f"{files.url}/a.pdf")

    # then
    assert info.value.permanent
    assert "refused" in info.value.reason
    assert len(files.requests) == 1


def test_redirects_are_followed_after_checking_each_hop():
    def responder(request):
        if request.path == "/start":
            return Reply(status=301, body=b"", headers={"Location": "/files/final.txt"})
        return Reply(body=b"done", headers={"Content-Type": "text/plain"})

    with FakeHTTPServer(responder) as files:
        attachment = fetch_attachment(f"{files.url}/start")

    assert attachment.content == b"done"
    assert attachment.filename == "final.txt"
    assert [r.path for r in files.requests] == ["/start", "/files/final.txt"]


def test_redirect_loop_is_refused():
    with FakeHTTPServer(
        lambda r: Reply(status=302, body=b"", headers={"Location": "/again"})
    ) as files:
        with pytest.raises(DeliveryError) as info:
            fetch_attachment(f"{files.url}/again")

    assert "redirects" in info.value.reason
    assert len(files.requests) == attachments.MAX_REDIRECTS + 1


def test_connects_to_the_checked_address_with_the_original_host_header(monkeypatch):
    # DNS answers once with the checked address; a second (rebinding) answer is never asked.
    calls: list[str] = []

    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host != "files.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        calls.append(host)
        address = "127.0.0.1" if len(calls) == 1 else "10.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(egress.socket, "getaddrinfo", fake_getaddrinfo)
    with FakeHTTPServer(lambda r: Reply(body=b"pinned")) as files:
        port = files.url.rsplit(":", 1)[1]
        attachment = fetch_attachment(f"http://files.example:{port}/doc.txt")

    assert attachment.content == b"pinned"
    assert calls == ["files.example"]
    assert files.requests[0].headers["host"] == f"files.example:{port}"


def test_host_with_any_private_answer_is_refused(monkeypatch, no_allowlist):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(egress.socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(DeliveryError) as info:
        fetch_attachment("http://mixed.example/a.pdf")

    assert info.value.code == "egress_denied"
    assert "10.0.0.5, a private address" in info.value.reason


def test_attach_from_content_adds_parts_and_caches_per_batch():
    cache: dict = {}
    content = {"attachments": [{"url": "", "filename": "notes.txt", "content_type": "text/plain"}]}
    with FakeHTTPServer(
        lambda r: Reply(body=b"notes", headers={"Content-Type": "application/x-unknown"})
    ) as files:
        content["attachments"][0]["url"] = f"{files.url}/n"
        emails = [EmailMultiAlternatives(subject="s", body="b", to=["a@b.test"]) for _ in range(2)]
        for email in emails:
            attach_from_content(email, content, {}, cache)

    assert len(files.requests) == 1
    for email in emails:
        [(filename, data, mimetype)] = email.attachments
        assert (filename, data, mimetype) == ("notes.txt", "notes", "text/plain")


def test_attach_from_content_refuses_private_and_ignores_the_old_account_flag(no_allowlist):
    email = EmailMultiAlternatives(subject="s", body="b", to=["a@b.test"])

    with pytest.raises(DeliveryError) as info:
        attach_from_content(
            email,
            {"attachments": [{"url": "http://127.0.0.1/x.pdf"}]},
            {"allow_private_attachments": True},  # App-settable once; no longer honoured
        )

    assert "x.pdf" in info.value.reason
    assert email.attachments == []
