"""The benchmark's providers that take one message per request and answer after 50 ms: a
small RSGI app served by granian (a Rust HTTP/1.1 and HTTP/2 server) in its own process.

Why not a Python server: the fake shares the 2 cores with what the benchmark measures, and
Apple's or a webhook receiver's CPU is not on this box. The h2 library's fake APNs
(channels_app/providers/apns/fake.py, which the tests use for its checks) took ~0.37 ms of
CPU per request, most of it decoding HPACK in Python (the JWT is never indexed, so every
request carries it whole): half a core at P2b-push's rate. Granian takes ~0.07 ms.

One port answers both: HTTP/1.1 (the signed webhook, `POST /hook`, the message id in the
JSON body) and HTTP/2 with prior knowledge (APNs, `POST /3/device/<token>`, the message id
in `apns-id`). Each message's first arrival is noted with time.time(); the benchmark reads
them from `GET /arrivals` and `GET /arrivals/count` (its own read-out, not a provider URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

DELAY = 0.05
ROOT = Path(__file__).resolve().parent.parent

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_arrivals: dict[str, float] = {}


async def app(scope: Any, protocol: Any) -> None:
    """RSGI: granian calls it for every request, in the one worker process."""
    if scope.proto != "http":
        return
    if scope.path == "/arrivals/count":
        protocol.response_bytes(200, [], str(len(_arrivals)).encode())
        return
    if scope.path == "/arrivals":
        body = json.dumps(_arrivals).encode()
        protocol.response_bytes(200, [("content-type", "application/json")], body)
        return
    body = await protocol()
    if scope.path.startswith("/3/device/"):  # APNs: answered by apns-id, empty body
        message_id = scope.headers.get("apns-id", "")
        headers, reply = [("apns-id", message_id)], b""
    else:  # the signed webhook with batch_size 1: one message per POST
        message_id = json.loads(body)["message_id"]
        headers, reply = [("content-type", "application/json")], b"{}"
    _arrivals.setdefault(message_id, time.time())
    await asyncio.sleep(DELAY)
    protocol.response_bytes(200, headers, reply)


class SlowProvider:
    """Runs `app` under granian on a free port; `url` is its base, `count()` and
    `arrivals()` what reached it."""

    def __init__(self) -> None:
        self._http = requests.Session()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(
            [
                sys.executable, "-m", "granian", "--interface", "rsgi", "--http", "auto",
                "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--backlog", "2048", "--backpressure", "4096",
                # As APNs: up to 1,000 streams on a connection.
                "--http2-max-concurrent-streams", "1000",
                "--log-level", "warning", "bench.fake_provider:app",
            ],
            cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                self.count()
                return
            except requests.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("the fake provider (granian) did not start") from None
                time.sleep(0.1)

    def count(self) -> int:
        return int(self._http.get(f"{self.url}/arrivals/count", timeout=10).text)

    def arrivals(self) -> dict[str, float]:
        return self._http.get(f"{self.url}/arrivals", timeout=60).json()

    def cpu_seconds(self) -> float:
        """CPU time of granian's processes so far (Linux /proc): the fake's share of the
        cores, which the benchmark reports next to its figures."""
        total = 0.0
        pids = [self._process.pid]
        while pids:
            pid = pids.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            pids.extend(int(child) for child in children)
        return total

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
