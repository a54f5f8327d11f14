"""The address classifier, the operator's allowlist, and http_request under the policy."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured

from channels_app.providers import egress
from channels_app.providers.base import DeliveryError, excerpt
from channels_app.providers.egress import (
    EgressDenied,
    EgressUnresolved,
    egress_check_url,
    egress_resolve,
    parse_ip_literal,
)
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.http import http_request
from tests.egress.conftest import LOOPBACK, PRIVATE


@pytest.mark.parametrize(
    "host",
    [
        *LOOPBACK,
        *PRIVATE,
        "::",
        "0x7f.1",
        "0x7f000001",
        "017700000001",
        "127.1",
        "foo.localhost",
        "LOCALHOST.",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::1]",
        "[::ffff:a9fe:a9fe]",
    ],
)
def test_internal_destinations_are_refused(no_allowlist, host):
    with pytest.raises(EgressDenied) as info:
        egress_resolve(host, 80)

    assert info.value.reason.startswith("refused: ")


@pytest.mark.parametrize(
    ("host", "address"),
    [("8.8.8.8", "8.8.8.8"), ("[2001:4860:4860::8888]", "2001:4860:4860::8888")],
)
def test_public_addresses_pass_and_are_returned_to_connect_to(no_allowlist, host, address):
    destination = egress_resolve(host, 443)

    assert destination.address == address
    assert destination.port == 443


@pytest.mark.parametrize(
    "spelling", ["2130706433", "0x7f.1", "0x7f.0.0.1", "017700000001", "0177.0.0.1", "127.1"]
)
def test_legacy_ipv4_spellings_are_read_as_the_resolver_reads_them(spelling):
    assert parse_ip_literal(spelling) == ipaddress.ip_address("127.0.0.1")


def test_names_are_not_ip_literals():
    assert parse_ip_literal("hooks.example.com") is None
    assert parse_ip_literal("deadbeef") is None


def test_reason_names_the_host_and_the_refused_address(no_allowlist, monkeypatch):
    monkeypatch.setattr(
        egress.socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.8.7", port))
        ],
    )

    with pytest.raises(EgressDenied) as info:
        egress_resolve("internal.example", 443)

    assert info.value.reason == "refused: 'internal.example' is 10.9.8.7, a private address"


def test_a_name_with_any_internal_answer_is_refused(no_allowlist, monkeypatch):
    answers = [("8.8.8.8", 0), ("::1", 0, 0, 0)]
    monkeypatch.setattr(
        egress.socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in answers
        ],
    )

    with pytest.raises(EgressDenied) as info:
        egress_resolve("mixed.example", 443)

    assert "::1, a loopback address" in info.value.reason


def test_unresolvable_names_are_not_a_policy_decision(no_allowlist):
    with pytest.raises(EgressUnresolved):
        egress_resolve("no-such-host.invalid", 443)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "http:///x"]
)
def test_only_http_and_https_urls_with_a_host(url):
    with pytest.raises(EgressDenied):
        egress_check_url(url)


# --- the operator's allowlist ---------------------------------------------------------------


def test_cidr_entries_open_their_range_only(settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["10.0.0.0/8", "fd00::/8"]

    assert egress_resolve("10.20.30.40", 8080).address == "10.20.30.40"
    assert egress_resolve("[fd12::1]", 443).address == "fd12::1"
    with pytest.raises(EgressDenied):
        egress_resolve("192.168.0.1", 80)


def test_host_port_entries_open_that_port_only(settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["localhost:8025", "127.0.0.1:9000", "[::1]:8080"]

    assert egress_resolve("localhost", 8025).host == "localhost"
    assert egress_resolve("127.0.0.1", 9000).address == "127.0.0.1"
    assert egress_resolve("::1", 8080).address == "::1"
    for host, port in [("localhost", 25), ("127.0.0.1", 9001), ("::1", 80)]:
        with pytest.raises(EgressDenied):
            egress_resolve(host, port)


def test_host_entries_open_every_port_and_ip_entries_match_every_spelling(settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["localhost", "127.0.0.1"]

    assert egress_resolve("LocalHost.", 1).host == "localhost"
    assert egress_resolve("2130706433", 80).address == "127.0.0.1"
    assert egress_resolve("::ffff:127.0.0.1", 80).address == "::ffff:7f00:1"
    with pytest.raises(EgressDenied):
        egress_resolve("10.0.0.1", 80)


def test_the_allowlist_is_read_at_call_time(settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.1"]
    assert egress_resolve("127.0.0.1", 80)

    settings.TIDINGS_EGRESS_ALLOWLIST = []
    with pytest.raises(EgressDenied):
        egress_resolve("127.0.0.1", 80)


@pytest.mark.parametrize("entry", ["http://x/", "10.0.0.0/33", "host:99999", "a b"])
def test_a_malformed_allowlist_entry_is_a_configuration_error(settings, entry):
    settings.TIDINGS_EGRESS_ALLOWLIST = [entry]

    with pytest.raises(ImproperlyConfigured) as info:
        egress_resolve("8.8.8.8", 80)

    assert "TIDINGS_EGRESS_ALLOWLIST" in str(info.value)


# --- http_request ---------------------------------------------------------------------------


def test_http_request_refuses_before_connecting(no_allowlist):
    with FakeHTTPServer() as catcher:
        with pytest.raises(DeliveryError) as info:
            http_request("POST", f"{catcher.url}/x?token=s3cr3t", json={})

    assert catcher.requests == []
    assert info.value.permanent
    assert info.value.code == "egress_denied"
    assert "127.0.0.1" in info.value.reason
    assert "s3cr3t" not in str(info.value)


def test_redirects_are_not_followed(settings):
    with FakeHTTPServer() as catcher:
        with FakeHTTPServer(
            lambda r: Reply(status=307, body=b"", headers={"Location": f"{catcher.url}/inside"})
        ) as outside:
            # Only the first hop is allowlisted.
            settings.TIDINGS_EGRESS_ALLOWLIST = [outside.url.removeprefix("http://")]
            with pytest.raises(DeliveryError) as info:
                http_request("POST", f"{outside.url}/hook", json={})

    assert len(outside.requests) == 1
    assert catcher.requests == []
    assert info.value.permanent
    assert info.value.code == "redirect"


def test_connects_to_the_checked_address_with_the_real_host_header(monkeypatch, settings):
    # The first answer is checked and used; a second (rebinding) answer is never asked for.
    settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.1"]
    real = socket.getaddrinfo
    calls: list[str] = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.example":
            return real(host, port, *args, **kwargs)
        calls.append(host)
        address = "127.0.0.1" if len(calls) == 1 else "10.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(egress.socket, "getaddrinfo", fake_getaddrinfo)
    with FakeHTTPServer() as server:
        port = server.url.rsplit(":", 1)[1]
        http_request("POST", f"http://hooks.example:{port}/hook", json={})

    assert [r.headers["host"] for r in server.requests] == [f"hooks.example:{port}"]
    assert calls == ["hooks.example"]  # the connection did not ask DNS again


def test_provider_answers_are_cut_to_a_printable_excerpt():
    body = "internal\r\n\x1b[31mstack trace\x00 " + "x" * 5000
    with FakeHTTPServer(lambda r: Reply(status=400, body=body.encode())) as server:
        with pytest.raises(DeliveryError) as info:
            http_request("POST", f"{server.url}/x", json={})

    reason = info.value.reason
    assert reason.startswith("rejected by provider HTTP 400: internal [31mstack trace ")
    assert len(reason) <= 250
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in reason)


def test_excerpt():
    assert excerpt(b"a\nb\tc\x00d") == "a b c d"
    assert excerpt("y" * 300, limit=10) == "y" * 9 + "…"
    assert excerpt(None) == ""


def test_https_to_the_pinned_address_keeps_sni_and_the_certificate_check(
    monkeypatch, settings, tmp_path
):
    # A local TLS server whose certificate names only "tidings.test": the connection goes to
    # the checked IP, and TLS still verifies the name (a pinned IP without SNI would fail).
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tidings.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("tidings.test")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # no delayed-ACK stall: see fakes_http.py

        def do_GET(self):
            seen.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    sni: list[str] = []
    context.sni_callback = lambda sock, server_name, ctx: sni.append(server_name)
    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    real = socket.getaddrinfo
    monkeypatch.setattr(
        egress.socket,
        "getaddrinfo",
        lambda host, port, *a, **k: real(
            "127.0.0.1" if host == "tidings.test" else host, port, *a, **k
        ),
    )
    settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.1"]
    port = server.server_address[1]
    try:
        response = http_request("GET", f"https://tidings.test:{port}/x", verify=str(cert_file))
        with pytest.raises(DeliveryError):  # the same server under another name: refused
            http_request("GET", f"https://127.0.0.1:{port}/x", verify=str(cert_file))
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 204
    assert sni[0] == "tidings.test"
    assert seen == [f"tidings.test:{port}"]
