"""A local HTTP/2 server (h2c, prior knowledge, no TLS) and an APNs responder for it.

`FakeH2Server` speaks HTTP/2 with the `h2` library: each request becomes a `Recorded` and the
responder's `Reply` is sent back on its stream, from a thread per stream so a slow responder
does not block the connection (APNs multiplexes). With `reply_delay` (the benchmark's provider
that answers after 50 ms) the responder must not block: it runs on the connection's thread
and one timer thread sends each reply when due, which keeps the fake's own CPU per request
small next to the client it measures. `FakeAPNs` checks what APNs checks: the
ES256 provider JWT (signature with the public key, kid, iss, age), topic, push type, priority,
apns-id, device token and payload, and answers {"reason": …} with APNs status codes.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt

from channels_app.providers.fakes_http import Recorded, Reply, Responder


@dataclass(frozen=True)
class _Stream:
    """Where a reply goes: a stream of a connection, whose writes share one lock."""

    h2conn: h2.connection.H2Connection
    sock: socket.socket
    write_lock: threading.Lock
    stream_id: int


class FakeH2Server:
    def __init__(self, responder: Responder, reply_delay: float | None = None):
        self.responder = responder
        self.reply_delay = reply_delay
        self._due: list[tuple[float, int, _Stream, Reply]] = []  # replies, by when they are due
        self._due_ready = threading.Condition()
        self._seq = itertools.count()
        self.requests: list[Recorded] = []
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._stopped = threading.Event()

    def __enter__(self) -> FakeH2Server:
        threading.Thread(target=self._accept, daemon=True).start()
        if self.reply_delay is not None:
            threading.Thread(target=self._send_when_due, daemon=True).start()
        return self

    def _send_when_due(self) -> None:
        with self._due_ready:
            while not self._stopped.is_set():
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    _, _, stream, reply = heapq.heappop(self._due)
                    self._due_ready.release()
                    try:
                        self._send_reply(stream, reply)
                    finally:
                        self._due_ready.acquire()
                    continue
                self._due_ready.wait(self._due[0][0] - now if self._due else 0.1)

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._sock.close()
        for conn in list(self._open):
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            # As any HTTP/2 server: small frames go out at once, not after the peer's ACK.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        h2conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        write_lock = threading.Lock()
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}

        def flush() -> None:
            data = h2conn.data_to_send()
            if data:
                sock.sendall(data)

        with write_lock:
            h2conn.initiate_connection()
            flush()
        try:
            while True:
                data = sock.recv(65535)
                if not data:
                    return
                with write_lock:
                    events = h2conn.receive_data(data)
                    for event in events:
                        if isinstance(event, h2.events.RequestReceived):
                            streams[event.stream_id] = (dict(event.headers), bytearray())
                        elif isinstance(event, h2.events.DataReceived):
                            streams[event.stream_id][1].extend(event.data)
                            h2conn.acknowledge_received_data(
                                event.flow_controlled_length, event.stream_id
                            )
                        elif isinstance(event, h2.events.StreamEnded):
                            headers, body = streams.pop(event.stream_id)
                            stream = _Stream(h2conn, sock, write_lock, event.stream_id)
                            if self.reply_delay is not None:
                                self._reply_later(stream, headers, body)
                                continue
                            threading.Thread(
                                target=self._respond, args=(stream, headers, body), daemon=True
                            ).start()
                        elif isinstance(event, h2.events.ConnectionTerminated):
                            return
                    flush()
        except (OSError, h2.exceptions.ProtocolError):
            return
        finally:
            sock.close()

    def _reply_later(self, stream: _Stream, headers: dict[str, str], body: bytearray) -> None:
        reply = self._reply(headers, body)
        assert self.reply_delay is not None
        with self._due_ready:
            due = (time.monotonic() + self.reply_delay, next(self._seq), stream, reply)
            heapq.heappush(self._due, due)
            self._due_ready.notify()

    def _respond(self, stream: _Stream, headers: dict[str, str], body: bytearray) -> None:
        self._send_reply(stream, self._reply(headers, body))

    def _reply(self, headers: dict[str, str], body: bytearray) -> Reply:
        recorded = Recorded(
            method=headers.get(":method", ""),
            path=headers.get(":path", ""),
            query={},
            headers={k.lower(): v for k, v in headers.items() if not k.startswith(":")},
            body=bytes(body),
        )
        with self._lock:
            self.requests.append(recorded)
        return self.responder(recorded)

    def _send_reply(self, stream: _Stream, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = json.dumps(reply.body).encode() if reply.body else b""
        response_headers = [(":status", str(reply.status)), ("content-length", str(len(payload)))]
        response_headers += [(k.lower(), v) for k, v in reply.headers.items()]
        try:
            with stream.write_lock:
                stream.h2conn.send_headers(
                    stream.stream_id, response_headers, end_stream=not payload
                )
                if payload:
                    stream.h2conn.send_data(stream.stream_id, payload, end_stream=True)
                stream.sock.sendall(stream.h2conn.data_to_send())
        except (OSError, h2.exceptions.H2Error):
            pass  # the client gave up on this stream (timeout) or closed the connection


_DEVICE_TOKEN = re.compile(r"^[0-9a-f]{64}$")
_PUSH_TYPES = {"alert", "background", "voip", "complication", "fileprovider", "mdm", "liveactivity"}


def apns_error(status: int, reason: str, **extra: Any) -> Reply:
    return Reply(status=status, body={"reason": reason, **extra})


class FakeAPNs:
    def __init__(self, *, team_id: str, key_id: str, public_key: Any, bundle_id: str):
        self.team_id = team_id
        self.key_id = key_id
        self.public_key = public_key
        self.bundle_id = bundle_id
        self.unregistered: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.jwts_accepted: set[str] = set()
        self.fail_with: Reply | None = None  # answer every valid request with this
        self.delay = 0.0
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        if request.method != "POST":
            return apns_error(405, "MethodNotAllowed")
        if not request.path.startswith("/3/device/"):
            return apns_error(404, "BadPath")
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4())
        rejected = self._check(request, apns_id)
        if rejected is not None:
            rejected.headers["apns-id"] = apns_id
            return rejected
        return Reply(status=200, body=b"", headers={"apns-id": apns_id})

    def _check(self, request: Recorded, apns_id: str) -> Reply | None:
        auth_error = self._check_jwt(request.headers.get("authorization", ""))
        if auth_error:
            return auth_error
        try:
            if str(uuid.UUID(apns_id)) != apns_id.lower():
                raise ValueError(apns_id)
        except ValueError:
            return apns_error(400, "BadMessageId")
        topic = request.headers.get("apns-topic")
        if not topic:
            return apns_error(400, "MissingTopic")
        if topic != self.bundle_id:
            return apns_error(400, "TopicDisallowed")
        if request.headers.get("apns-push-type", "alert") not in _PUSH_TYPES:
            return apns_error(400, "InvalidPushType")
        if request.headers.get("apns-priority", "10") not in {"1", "5", "10"}:
            return apns_error(400, "BadPriority")
        device = request.path.removeprefix("/3/device/")
        if not device:
            return apns_error(400, "MissingDeviceToken")
        if not _DEVICE_TOKEN.match(device):
            return apns_error(400, "BadDeviceToken")
        if not request.body:
            return apns_error(400, "PayloadEmpty")
        if len(request.body) > 4096:
            return apns_error(413, "PayloadTooLarge")
        try:
            payload = json.loads(request.body)
        except ValueError:
            return apns_error(400, "BadPayload")  # not a documented reason; APNs drops it
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return apns_error(400, "PayloadEmpty")
        if device in self.unregistered:
            return apns_error(410, "Unregistered", timestamp=int(time.time() * 1000))
        if self.fail_with is not None:
            return self.fail_with
        with self._lock:
            self.sent.append({"device": device, "payload": payload, "headers": request.headers})
        return None

    def _check_jwt(self, authorization: str) -> Reply | None:
        if not authorization.startswith("bearer "):
            return apns_error(403, "MissingProviderToken")
        token = authorization.removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256" or header.get("kid") != self.key_id:
                return apns_error(403, "InvalidProviderToken")
            claims = jwt.decode(
                token, self.public_key, algorithms=["ES256"], options={"require": ["iss", "iat"]}
            )
        except jwt.InvalidTokenError:
            return apns_error(403, "InvalidProviderToken")
        if claims["iss"] != self.team_id:
            return apns_error(403, "InvalidProviderToken")
        if time.time() - claims["iat"] > 3600:
            return apns_error(403, "ExpiredProviderToken")
        with self._lock:
            self.jwts_accepted.add(token)
        return None
