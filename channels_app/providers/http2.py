"""HTTP/2 for providers that speak only HTTP/2 (APNs): every request of a process multiplexed
over a few long-lived connections by libcurl (pycurl), the egress policy on every request.

Why libcurl and not httpx: httpcore's HTTP/2 is pure Python and takes a pool lock and a
per-connection read lock per request; with the runner's 64 requests in flight it cost about
1.5 ms of CPU per push on the 2-core bench box, libcurl with nghttp2 about 0.3 ms
(docs/scaling.md, "HTTP/2"). One thread per process drives a `CurlMulti` with libcurl's
event API (socket and timer callbacks on a selector, woken through a socket pair when a
request is added), so an idle process does not poll; callers block on a Future, which
is what the runner's threads do for every single-request provider.

Egress: the URL's host is checked by `egress_check_url` in the caller's thread and pinned
with CURLOPT_RESOLVE, so libcurl never resolves it itself; and every socket libcurl opens
goes through `_open_socket`, which refuses any address but the checked one (a URL libcurl
parsed differently from us cannot reach another host). No redirects, no proxies from the
environment, http and https only.
"""

from __future__ import annotations

import json
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

from channels_app.providers.base import DeliveryError
from channels_app.providers.egress import (
    EgressDenied,
    EgressUnresolved,
    egress_check_url,
    egress_delivery_error,
)

logger = logging.getLogger(__name__)

# Streams per connection are capped by the server's SETTINGS too (APNs allows 1,000);
# PIPEWAIT makes libcurl wait for a multiplexed stream rather than open a connection.
MAX_CONNECTIONS_PER_HOST = 4
MAX_STREAMS_PER_CONNECTION = 1000
CONNECT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class H2Response:
    status_code: int
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Transfer:
    handle: pycurl.Curl
    future: Future[H2Response]
    body: BytesIO = field(default_factory=BytesIO)
    headers: dict[str, str] = field(default_factory=dict)

    def header_line(self, line: bytes) -> None:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            self.headers[name.strip().lower()] = value.strip()


class _Multiplexer:
    """One CurlMulti and the thread that drives it; created once per process."""

    def __init__(self) -> None:
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, MAX_CONNECTIONS_PER_HOST)
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
        threading.Thread(target=self._run, name="http2", daemon=True).start()

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
                logger.exception("HTTP/2 loop step failed")

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
                H2Response(status, transfer.headers, transfer.body.getvalue())
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


def h2_submit(
    method: str, url: str, *, body: bytes = b"", headers: dict[str, str], timeout: float
) -> Future[H2Response]:
    """Start one request; the Future gets the response, or a DeliveryError (egress refused,
    timeout, connection). Raises DeliveryError at once when the egress policy refuses."""
    try:
        destination = egress_check_url(url)
    except (EgressDenied, EgressUnresolved) as exc:
        raise egress_delivery_error(exc) from None
    handle = pycurl.Curl()
    transfer = _Transfer(handle, Future())
    pinned = f"[{destination.address}]" if ":" in destination.address else destination.address
    handle.setopt(pycurl.URL, url)
    handle.setopt(pycurl.RESOLVE, [f"{destination.host}:{destination.port}:{pinned}"])
    handle.setopt(
        pycurl.OPENSOCKETFUNCTION, _open_socket_guard(destination.address, destination.port)
    )
    handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
    handle.setopt(pycurl.FOLLOWLOCATION, 0)
    handle.setopt(pycurl.PROXY, "")  # never a proxy from the environment
    handle.setopt(pycurl.NOSIGNAL, 1)
    handle.setopt(pycurl.CAINFO, certifi.where())
    # h2 over TLS (ALPN); over http:// (a local fake) h2c with prior knowledge.
    handle.setopt(
        pycurl.HTTP_VERSION,
        pycurl.CURL_HTTP_VERSION_2TLS
        if url.lower().startswith("https:")
        else pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
    )
    handle.setopt(pycurl.PIPEWAIT, 1)
    handle.setopt(pycurl.CUSTOMREQUEST, method)
    if body or method == "POST":
        handle.setopt(pycurl.POSTFIELDS, body)
    handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in headers.items()])
    handle.setopt(pycurl.USERAGENT, "Tidings/1.0")
    handle.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
    handle.setopt(pycurl.CONNECTTIMEOUT_MS, min(CONNECT_TIMEOUT_MS, max(1, int(timeout * 1000))))
    handle.setopt(pycurl.WRITEDATA, transfer.body)
    handle.setopt(pycurl.HEADERFUNCTION, transfer.header_line)
    _shared().submit(transfer)
    return transfer.future


def h2_request(
    method: str, url: str, *, body: bytes = b"", headers: dict[str, str], timeout: float
) -> H2Response:
    """One request, waiting for its answer (the caller is one of the runner's threads)."""
    future = h2_submit(method, url, body=body, headers=headers, timeout=timeout)
    try:
        # libcurl enforces `timeout`; the extra second only guards against a lost wake-up.
        return future.result(timeout=timeout + 1)
    except FutureTimeout:
        raise DeliveryError("provider timed out", code="timeout") from None
