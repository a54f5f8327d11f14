"""P2b and P2b-push for `make bench` (called from bench/run.py): providers that take one
message per request and answer after 50 ms.

P2b:      the signed webhook (batch_size 1, one POST per message) to a local HTTP/1.1 server.
P2b-push: APNs to a local HTTP/2 server (h2c, prior knowledge) standing in for Apple.
Each prints msg/s, p50/p99 from the API call to arrival at the provider, the raw-Celery floor
of the same run and the latency-bound ceiling of a design that calls the provider one
message at a time per process (processes / 0.05 s).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels_app.providers.apns.fake import FakeH2Server
from channels_app.providers.fakes_http import Recorded, Reply

DELAY = 0.05
PER_CALL = 1000


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen backlog: every worker thread connects at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a worker stopped with calls in flight (the end of a run): not news
        super().handle_error(request, client_address)


class SlowWebhook:
    """One message per POST, answered after DELAY; notes when each message arrived."""

    def __init__(self, delay: float = DELAY) -> None:
        self.arrivals: dict[str, float] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no delayed-ACK stall: see fakes_http.py
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.arrivals.setdefault(json.loads(body)["message_id"], time.time())
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()


class SlowAPNs:
    """An HTTP/2 server standing in for APNs: answers 200 after DELAY on each stream (from
    the fake's timer thread, not a thread per stream: Apple's CPU is not on this box)."""

    def __init__(self, delay: float = DELAY) -> None:
        self.arrivals: dict[str, float] = {}

        def respond(request: Recorded) -> Reply:
            apns_id = request.headers.get("apns-id", "")
            self.arrivals.setdefault(apns_id, time.time())
            return Reply(status=200, body=b"", headers={"apns-id": apns_id})

        self.server = FakeH2Server(respond, reply_delay=delay).__enter__()
        self.url = self.server.url

    def close(self) -> None:
        self.server.__exit__(None, None, None)


def webhook_single_create(app: Any, webhook: SlowWebhook) -> None:
    """The signed webhook with batch_size 1 and its template "single" (P2b's provider)."""
    from channels_app.models import ChannelAccount
    from templates_app.models import MessageTemplate

    hook = ChannelAccount.objects.create(
        app=app, name="hook-single", channel="webhook", provider="webhook",
        config={"url": webhook.url, "secret": "s", "batch_size": 1},
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=app, name="single", code="single", channel="webhook", receiver_type="user_id",
        content={"text": "Order {$order} shipped"}, channel_account=hook,
    )  # fmt: skip


def accounts_create(app: Any, webhook: SlowWebhook, apns: SlowAPNs) -> None:
    from channels_app.models import ChannelAccount
    from templates_app.models import MessageTemplate

    webhook_single_create(app, webhook)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    push = ChannelAccount.objects.create(
        app=app, name="apns", channel="push", provider="apns", base_url=apns.url,
        config={"team_id": "TEAM123456", "key_id": "KEY1234567", "private_key": pem,
                "bundle_id": "com.example.bench", "environment": "production", "priority": 10},
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=app, name="push", code="push", channel="push", receiver_type="device_token",
        content={"title": "Order", "body": "Order {$order} shipped"}, channel_account=push,
    )  # fmt: skip


def run_one(
    post: Callable[[str, list[dict[str, Any]]], Any],
    template: str,
    receiver: Callable[[int], str],
    messages: int,
    arrivals: dict[str, float],
) -> dict[str, float]:
    """Send `messages` through the API in calls of PER_CALL, wait until they arrived."""
    sent_at: dict[str, float] = {}
    started = time.time()
    for start in range(0, messages, PER_CALL):
        batch = [
            {"receiver": receiver(i), "variables": {"order": str(i)}}
            for i in range(start, min(messages, start + PER_CALL))
        ]
        before = time.time()
        response = post(template, batch)
        response.raise_for_status()
        for item in response.json()["messages"]:
            sent_at[item["message_id"]] = before
    deadline = time.time() + max(120, messages / 15)
    while len(arrivals) < len(sent_at) and time.time() < deadline:
        time.sleep(0.05)
    arrived = [mid for mid in sent_at if mid in arrivals]
    if not arrived:
        return {"messages_per_s": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "delivered": 0}
    latencies = sorted(arrivals[mid] - sent_at[mid] for mid in arrived)
    last = max(arrivals[mid] for mid in arrived)
    return {
        "messages_per_s": len(arrived) / (last - started),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * (len(latencies) - 1)))] * 1000,
        "delivered": len(arrived),
        "sent": len(sent_at),
    }


def report(name: str, result: dict[str, float], floor: float, processes: int) -> str:
    ceiling = processes / DELAY
    return (
        f"{name:<14} {result['messages_per_s']:>10,.0f} messages/s    provider answers after "
        f"{DELAY * 1000:.0f} ms, one message per request; floor (raw Celery) {floor:,.0f}/s; "
        f"one-at-a-time ceiling {processes} processes / {DELAY}s = {ceiling:,.0f}/s; "
        f"target >= 1,500/s\n"
        f"               latency API call -> provider: p50 {result['p50_ms']:,.0f} ms, "
        f"p99 {result['p99_ms']:,.0f} ms ({result['delivered']:,}/{result.get('sent', 0):,} delivered)"
    )
