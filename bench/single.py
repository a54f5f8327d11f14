"""P2b and P2b-push for `make bench` (called from bench/run.py): providers that take one
message per request and answer after 50 ms.

P2b:      the signed webhook (batch_size 1, one POST per message) over HTTP/1.1,
P2b-push: APNs over HTTP/2 (h2c, prior knowledge),
both to bench/fake_provider.py, a Rust HTTP server standing in for the provider.
Each prints msg/s, p50/p99 from the API call to arrival at the provider, the raw-Celery floor
of the same run and the latency-bound ceiling of a design that calls the provider one
message at a time per process (processes / 0.05 s).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.fake_provider import DELAY, SlowProvider

PER_CALL = 1000


def webhook_single_create(app: Any, provider: SlowProvider) -> None:
    """The signed webhook with batch_size 1 and its template "single" (P2b's provider)."""
    from channels_app.models import ChannelAccount
    from templates_app.models import MessageTemplate

    hook = ChannelAccount.objects.create(
        app=app, name="hook-single", channel="webhook", provider="webhook",
        config={"url": f"{provider.url}/hook", "secret": "s", "batch_size": 1},
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=app, name="single", code="single", channel="webhook", receiver_type="user_id",
        content={"text": "Order {$order} shipped"}, channel_account=hook,
    )  # fmt: skip


def accounts_create(app: Any, provider: SlowProvider) -> None:
    from channels_app.models import ChannelAccount
    from templates_app.models import MessageTemplate

    webhook_single_create(app, provider)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    push = ChannelAccount.objects.create(
        app=app, name="apns", channel="push", provider="apns", base_url=provider.url,
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
    provider: SlowProvider,
) -> dict[str, float]:
    """Send `messages` through the API in calls of PER_CALL, wait until they arrived."""
    sent_at: dict[str, float] = {}
    arrived_before, cpu_before = provider.count(), provider.cpu_seconds()
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
    while provider.count() - arrived_before < len(sent_at) and time.time() < deadline:
        time.sleep(0.05)
    provider_cpu = provider.cpu_seconds() - cpu_before
    arrivals = provider.arrivals()
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
        "provider_cpu_ms_per_message": provider_cpu * 1000 / len(arrived),
    }


def report(name: str, result: dict[str, float], floor: float, processes: int) -> str:
    ceiling = processes / DELAY
    return (
        f"{name:<14} {result['messages_per_s']:>10,.0f} messages/s    provider answers after "
        f"{DELAY * 1000:.0f} ms, one message per request; floor (raw Celery) {floor:,.0f}/s; "
        f"one-at-a-time ceiling {processes} processes / {DELAY}s = {ceiling:,.0f}/s; "
        f"target >= 1,500/s\n"
        f"               latency API call -> provider: p50 {result['p50_ms']:,.0f} ms, "
        f"p99 {result['p99_ms']:,.0f} ms ({result['delivered']:,}/{result.get('sent', 0):,} delivered); "
        f"the fake provider's own CPU: {result.get('provider_cpu_ms_per_message', 0):.3f} ms/message"
    )
