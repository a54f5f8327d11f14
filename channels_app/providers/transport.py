"""The transport under all provider HTTP: libcurl (pycurl), every request of a process on one
`CurlMulti` driven by one thread, the egress policy on every request. HTTP/1.1 requests
(http.http_request) get pooled keep-alive connections; HTTP/2 ones (APNs) are multiplexed
as streams over a few long-lived connections.

Why libcurl: with the runner's 64 requests in flight, requests + urllib3 cost about 1 ms of
CPU per call and httpcore's pure-Python HTTP/2 about 1.5 ms (a pool lock and one read lock
per connection that the threads take turns on), libcurl about 0.3 ms (docs/scaling.md). The
loop uses libcurl's event API (socket and timer callbacks on a selector, woken through a
socket pair when a request is added), so an idle process does not poll; callers block on a
Future, which is what the runner's threads do for every single-request provider.

Egress: the URL's host is checked by `egress_check_url` in the caller's thread and pinned
with CURLOPT_RESOLVE, so libcurl never resolves it itself; and every socket libcurl opens
goes through `_open_socket_guard`, which refuses any address but the checked one (a URL
libcurl parsed differently from us cannot reach another host). No redirects, no proxies
from the environment, http and https only.
"""

from __future__ import annotations

import logging
import os
import queue
import selectors
import socket
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import certifi
import pycurl
from django.conf import settings

from channels_app.providers.base import DeliveryError
from channels_app.providers.egress import (
    Destination,
    EgressDenied,
    EgressUnresolved,
    egress_check_url,
    egress_delivery_error,
    parse_ip_literal,
)

logger = logging.getLogger(__name__)

# HTTP/1.1 takes a connection per request in flight: up to the runner's threads per host.
# HTTP/2 streams share a connection (PIPEWAIT: wait for a stream rather than open another);
# their number per connection is capped by the server's SETTINGS too (APNs: 1,000).
MAX_STREAMS_PER_CONNECTION = 1000
IDLE_CONNECTIONS_KEPT = 256
CONNECT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class CurlResponse:
    status_code: int
    reason: str
    headers: list[tuple[str, str]]  # as received, in order
    body: bytes = b""


@dataclass
class _Transfer:
    handle: pycurl.Curl
    future: Future[CurlResponse]
    body: BytesIO = field(default_factory=BytesIO)
    headers: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""

    def header_line(self, line: bytes) -> None:
        text = line.decode("latin-1").rstrip("\r\n")
        if text.startswith("HTTP/"):  # a status line: an interim answer's headers are dropped
            self.headers.clear()
            self.reason = text.split(" ", 2)[2] if text.count(" ") >= 2 else ""
            return
        name, sep, value = text.partition(":")
        if sep:
            self.headers.append((name.strip(), value.strip()))


class _Multiplexer:
    """One CurlMulti and the thread that drives it; created once per process."""

    def __init__(self) -> None:
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, settings.TIDINGS_DISPATCH_THREADS)
        self._multi.setopt(pycurl.M_MAXCONNECTS, IDLE_CONNECTIONS_KEPT)
        self._multi.setopt(pycurl.M_MAX_CONCURRENT_STREAMS, MAX_STREAMS_PER_CONNECTION)
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._inbox: queue.SimpleQueue[_Transfer] = queue.SimpleQueue()
        self._transfers: dict[pycurl.Curl, _Transfer] = {}
        self._deadline: float | None = None  # when libcurl wants its timeout action
        threading.Thread(target=self._run, name="provider-http", daemon=True).start()

    def submit(self, transfer: _Transfer) -> None:
        self._inbox.put(transfer)
        try:
            self._wake_w.send(b"\0")
        except BlockingIOError:  # the pipe is full: the loop is awake anyway
            pass

    # libcurl's callbacks, called from inside socket_action on the loop thread.
    def _on_socket(self, what: int, fd: int, multi: Any, data: Any) -> None:
        if what == pycurl.POLL_REMOVE:
            if fd in self._selector.get_map():
                self._selector.unregister(fd)
            return
        events = {
            pycurl.POLL_IN: selectors.EVENT_READ,
            pycurl.POLL_OUT: selectors.EVENT_WRITE,
            pycurl.POLL_INOUT: selectors.EVENT_READ | selectors.EVENT_WRITE,
        }[what]
        if fd in self._selector.get_map():
            self._selector.modify(fd, events, fd)
        else:
            self._selector.register(fd, events, fd)

    def _on_timer(self, timeout_ms: int) -> None:
        self._deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000

    def _run(self) -> None:
        while True:
            try:
                self._step()
            except Exception:  # the loop must outlive any one bad transfer
                logger.exception("provider HTTP loop: a step failed")

    def _step(self) -> None:
        wait = None
        if self._deadline is not None:
            wait = max(0.0, self._deadline - time.monotonic())
        for key, events in self._selector.select(wait):
            if key.data is None:
                self._take_new()
                continue
            mask = (pycurl.CSELECT_IN if events & selectors.EVENT_READ else 0) | (
                pycurl.CSELECT_OUT if events & selectors.EVENT_WRITE else 0
            )
            self._multi.socket_action(key.data, mask)
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._deadline = None
            self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        self._finish_done()

    def _take_new(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                transfer = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._transfers[transfer.handle] = transfer
            self._multi.add_handle(transfer.handle)
        # Let libcurl start what was added (it asks for a timeout action at once).
        self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)

    def _finish_done(self) -> None:
        while True:
            left, ok, failed = self._multi.info_read()
            for handle in ok:
                self._finish(handle, None)
            for handle, code, message in failed:
                self._finish(handle, (code, message))
            if not left:
                return

    def _finish(self, handle: pycurl.Curl, failure: tuple[int, str] | None) -> None:
        transfer = self._transfers.pop(handle)
        self._multi.remove_handle(handle)
        if failure is None:
            status = handle.getinfo(pycurl.RESPONSE_CODE)
            transfer.future.set_result(
                CurlResponse(status, transfer.reason, transfer.headers, transfer.body.getvalue())
            )
        else:
            transfer.future.set_exception(_transport_error(*failure))
        handle.close()


def _transport_error(code: int, message: str) -> DeliveryError:
    # The number and libcurl's name for it: its message may quote the host or URL.
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return DeliveryError("provider timed out", code="timeout")
    return DeliveryError(f"cannot reach provider: curl error {code}", code="connection")


_multiplexer: _Multiplexer | None = None
_multiplexer_pid = 0
_multiplexer_lock = threading.Lock()


def _shared() -> _Multiplexer:
    """This process's multiplexer (a forked child starts its own: no connection is
    shared between processes)."""
    global _multiplexer, _multiplexer_pid
    with _multiplexer_lock:
        if _multiplexer is None or _multiplexer_pid != os.getpid():
            _multiplexer = _Multiplexer()
            _multiplexer_pid = os.getpid()
        return _multiplexer


def _open_socket_guard(address: str, port: int) -> Any:
    def open_socket(purpose: int, curl_address: Any) -> socket.socket | int:
        family, socktype, protocol, sockaddr = curl_address
        if sockaddr[0] != address or sockaddr[1] != port:
            return pycurl.SOCKET_BAD  # not the address the egress policy checked
        return socket.socket(family, socktype, protocol)

    return open_socket


def _pinned_handle(
    url: str, destination: Destination, *, http2: bool, ca_file: str | None
) -> pycurl.Curl:
    """A handle for `url` that can only connect to the checked address, over http(s), with
    no proxy and no redirect; HTTP/1.1, or HTTP/2 when asked."""
    handle = pycurl.Curl()
    handle.setopt(pycurl.URL, url)
    if parse_ip_literal(destination.host) is None:
        pinned = f"[{destination.address}]" if ":" in destination.address else destination.address
        handle.setopt(pycurl.RESOLVE, [f"{destination.host}:{destination.port}:{pinned}"])
    guard = _open_socket_guard(destination.address, destination.port)
    handle.setopt(pycurl.OPENSOCKETFUNCTION, guard)
    handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
    handle.setopt(pycurl.FOLLOWLOCATION, 0)
    handle.setopt(pycurl.PROXY, "")  # never a proxy from the environment
    handle.setopt(pycurl.NOSIGNAL, 1)
    handle.setopt(pycurl.CAINFO, ca_file or certifi.where())
    if not http2:
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
    elif url[:6].lower() == "https:":
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS)
    else:  # h2c with prior knowledge: a local fake
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
    handle.setopt(pycurl.PIPEWAIT, 1)
    return handle


def curl_submit(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: list[tuple[str, str]],
    timeout: float,
    http2: bool = False,
    ca_file: str | None = None,
) -> Future[CurlResponse]:
    """Start one request; the Future gets the response, or a DeliveryError (timeout,
    connection). Raises DeliveryError at once when the egress policy refuses the URL.
    `headers` go out as given: libcurl adds none of its own that we did not ask for."""
    try:  # latin-1, as http.client (under requests) encodes header values
        lines = [f"{k}: {v}".encode("latin-1") for k, v in headers]
    except UnicodeEncodeError:
        raise DeliveryError(
            "request cannot be built: a header value is not latin-1",
            permanent=True,
            code="bad_request",
        ) from None
    try:
        destination = egress_check_url(url)
    except (EgressDenied, EgressUnresolved) as exc:
        raise egress_delivery_error(exc) from None
    handle = _pinned_handle(url, destination, http2=http2, ca_file=ca_file)
    transfer = _Transfer(handle, Future())
    if method == "GET":
        handle.setopt(pycurl.HTTPGET, 1)
    elif method == "HEAD":
        handle.setopt(pycurl.NOBODY, 1)
    else:
        handle.setopt(pycurl.CUSTOMREQUEST, method)
    if body is not None or method in ("POST", "PUT", "PATCH"):
        handle.setopt(pycurl.POSTFIELDS, body or b"")
    names = {name.lower() for name, _ in headers}
    # An empty value stops libcurl from sending its own default for that header.
    own = [f"{name}:" for name in ("Content-Type", "Expect") if name.lower() not in names]
    handle.setopt(pycurl.HTTPHEADER, [*lines, *(line.encode() for line in own)])
    if "user-agent" not in names:
        handle.setopt(pycurl.USERAGENT, "Tidings/1.0")
    if "accept-encoding" not in names:
        handle.setopt(pycurl.ACCEPT_ENCODING, "")  # what libcurl can decode, decoded
    handle.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
    handle.setopt(pycurl.CONNECTTIMEOUT_MS, min(CONNECT_TIMEOUT_MS, max(1, int(timeout * 1000))))
    handle.setopt(pycurl.WRITEDATA, transfer.body)
    handle.setopt(pycurl.HEADERFUNCTION, transfer.header_line)
    _shared().submit(transfer)
    return transfer.future


def curl_wait(future: Future[CurlResponse], timeout: float) -> CurlResponse:
    """The answer of a `curl_submit` (the caller is one of the runner's threads)."""
    try:
        # libcurl enforces `timeout`; the extra second only guards against a lost wake-up.
        return future.result(timeout=timeout + 1)
    except FutureTimeout:
        raise DeliveryError("provider timed out", code="timeout") from None
