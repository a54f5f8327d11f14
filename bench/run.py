"""`make bench`: ingest (P1) and end-to-end (P2) throughput, each next to a floor measured in
the same run on the same broker: raw Celery with one no-op task per message.

P1: receivers accepted per second through POST /api/v1/send (gunicorn, --web-workers
    processes, as many clients, 10k-receiver calls).
    Floor: no-op tasks published per second (one apply_async per message).
P2: messages per second from the API call to a local fake webhook provider (batch-capable,
    500 messages per POST), with p50/p99 latency from the API call to arrival.
    Floor: no-op tasks published and executed per second by a worker of the same size.
P2b, P2b-push: the same to providers taking one message per request and answering after
    50 ms (a webhook over HTTP/1.1, APNs over HTTP/2): see bench/single.py.

Uses its own PostgreSQL database (tidings_bench_throughput) and Redis databases 9/10
(BENCH_DB_NAME, BENCH_BROKER_URL / BENCH_REDIS_URL to change them); stops everything it
starts. Options: --p1-calls, --p2-messages, --p2b-messages, --floor-tasks, --concurrency,
--web-workers, --only p1,p2,p2b,p2b-push.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB_NAME", "tidings_bench_throughput")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")
CACHE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings.test",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "CELERY_BROKER_URL": BROKER,
    "REDIS_URL": CACHE,
    "BENCH_COUNTER_URL": CACHE,
    "TIDINGS_LOG_LEVEL": "WARNING",
    "TIDINGS_EGRESS_ALLOWLIST": "127.0.0.1",  # the fake webhook provider is on loopback
    # A benchmark measures throughput, not the per-App API rate limit.
    "TIDINGS_API_RATE_LIMIT": "1000000/s",
    "PYTHONPATH": str(ROOT),
}
os.environ.update(ENV)
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


class Processes:
    """Every process the bench starts, stopped by PID at the end."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(
        self, cmd: list[str], wait_for: str | None = None, timeout: float = 60
    ) -> subprocess.Popen:
        process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # noqa: S603
        self.running.append(process)
        if wait_for:
            ready = threading.Event()

            def read() -> None:
                for line in process.stderr:
                    if wait_for in line:
                        ready.set()

            threading.Thread(target=read, daemon=True).start()
            if not ready.wait(timeout):
                raise RuntimeError(f"{cmd[2:5]} did not start")
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


def worker_cmd(
    queues: str, concurrency: int, include: str | None = None, lanes: str = ""
) -> list[str]:
    """A worker on lane groups (`--lanes`, resolved from the registry) or, for the raw Celery
    floor, on a plain queue."""
    select = ["--lanes", lanes] if lanes else ["-Q", queues]
    cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", *select, "-c", str(concurrency), "-l", "info",
           "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench-{time.monotonic_ns()}@%h"]  # fmt: skip
    if include:
        cmd += ["--include", include]
    return cmd


class FakeProvider:
    """A batch-capable webhook receiver that notes when each message arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no delayed-ACK stall: see fakes_http.py
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.time()
                payload = json.loads(body)
                with outer.lock:
                    for message in payload.get("messages", [payload]):
                        outer.arrivals.setdefault(message["message_id"], now)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()


class _Skip(Exception):
    """P2 not asked for (--only)."""


def setup_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENV, check=True)  # noqa: S603


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--p1-calls", type=int, default=8, help="10k-receiver API calls for P1")
    parser.add_argument("--p2-messages", type=int, default=30_000)
    parser.add_argument("--floor-tasks", type=int, default=20_000)
    parser.add_argument("--p2b-messages", type=int, default=20_000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="worker processes for P2, P2b and their floor: the normal lanes' -c 4 of the "
        "topology in docs/operations.md (P2 and P2b wait on PostgreSQL and the provider "
        "more than they compute)",
    )
    parser.add_argument("--only", default="p1,p2,p2b,p2b-push", help="which figures to measure")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=4,
        help="gunicorn processes, one P1 client each (docs/operations.md: 2 per core; a "
        "process waiting on PostgreSQL's COPY leaves its core to another)",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))

    setup_database()
    import django

    django.setup()
    import redis
    import requests

    from bench import single
    from bench.fake_provider import SlowProvider
    from channels_app.models import ChannelAccount
    from notify.services import app_create
    from templates_app.models import MessageTemplate
    from tracking.models import Message

    broker, counter = redis.Redis.from_url(BROKER), redis.Redis.from_url(CACHE)
    broker.flushdb()
    counter.flushdb()
    provider = FakeProvider()
    slow_provider = SlowProvider()
    app, key = app_create("bench")
    single.accounts_create(app, slow_provider)
    account = ChannelAccount.objects.create(
        app=app,
        name="hook",
        channel="webhook",
        provider="webhook",
        config={"url": provider.url, "secret": "s", "batch_size": 500},
    )
    MessageTemplate.objects.create(
        app=app,
        name="bench",
        code="bench",
        channel="webhook",
        receiver_type="user_id",
        content={"text": "Order {$order} shipped"},
        channel_account=account,
    )
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    procs = Processes()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, float] = {}
    try:
        procs.start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-w",
                str(args.web_workers),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "--log-level",
                "info",
            ],
            wait_for="Booting worker",
        )
        for _ in range(300):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.1)

        # --- P1: ingest -----------------------------------------------------------------
        def call(n: int, offset: int) -> requests.Response:
            body = {
                "template": "bench",
                "messages": [
                    {"receiver": f"user-{offset + i}", "variables": {"order": str(offset + i)}}
                    for i in range(n)
                ],
            }
            return requests.post(
                f"{base}/api/v1/send", data=json.dumps(body), headers=headers, timeout=120
            )

        call(1000, 0)  # warm-up
        Message.objects.all().delete()
        accepted = 0
        lock = threading.Lock()
        calls = list(range(args.p1_calls))

        def client() -> None:
            nonlocal accepted
            while True:
                with lock:
                    if not calls:
                        return
                    index = calls.pop()
                response = call(10_000, 10_000 * (index + 1))
                response.raise_for_status()
                with lock:
                    accepted += response.json()["accepted"]

        if "p1" in only:
            started = time.perf_counter()
            clients = [threading.Thread(target=client) for _ in range(args.web_workers)]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
            results["p1_receivers_per_s"] = accepted / (time.perf_counter() - started)

        from bench.noop_tasks import noop
        from config.celery_app import app as celery_app

        started = time.perf_counter()
        with celery_app.producer_or_acquire() as producer:
            for index in range(args.floor_tasks):
                noop.apply_async(args=[index], queue="bench.noop", producer=producer)
        results["p1_floor_publish_per_s"] = args.floor_tasks / (time.perf_counter() - started)

        # --- floor for P2: raw Celery end to end ------------------------------------------
        started = time.perf_counter()
        floor_worker = procs.start(
            worker_cmd("bench.noop", args.concurrency, include="bench.noop_tasks"),
            wait_for=" ready.",
        )
        ready_at = time.perf_counter()
        while int(counter.get("bench:noop:done") or 0) < args.floor_tasks:
            time.sleep(0.05)
        # Publishing rate is measured above; here, the rate of a worker draining the tasks.
        drain = time.perf_counter() - ready_at
        results["p2_floor_tasks_per_s"] = args.floor_tasks / (
            args.floor_tasks / results["p1_floor_publish_per_s"] + drain
        )
        results["floor_worker_drain_per_s"] = args.floor_tasks / drain
        procs.stop(floor_worker)

        # --- P2b, P2b-push: one message per request, 50 ms each -----------------------------
        def post(template: str, batch: list[dict]) -> requests.Response:
            body = json.dumps({"template": template, "messages": batch})
            return requests.post(f"{base}/api/v1/send", data=body, headers=headers, timeout=120)

        for name, template, lane, receiver in (
            ("p2b", "single", "webhook.normal", lambda i: f"user-{i}"),
            ("p2b-push", "push", "push.normal", lambda i: f"{i:064x}"),
        ):
            if name not in only:
                continue
            broker.flushdb()
            Message.objects.all().delete()
            worker = procs.start(worker_cmd(lane, args.concurrency), wait_for=" ready.")
            results[name] = single.run_one(
                post, template, receiver, args.p2b_messages, slow_provider
            )
            procs.stop(worker)

        # --- P2: API -> worker -> provider -------------------------------------------------
        broker.flushdb()
        Message.objects.all().delete()
        if "p2" not in only:
            raise _Skip
        procs.start(worker_cmd("", args.concurrency, lanes="webhook"), wait_for=" ready.")
        sent_at: dict[str, float] = {}
        per_call = 1000
        started_wall = time.time()
        for index in range(args.p2_messages // per_call):
            before = time.time()
            response = call(per_call, 10_000_000 + index * per_call)
            response.raise_for_status()
            for item in response.json()["messages"]:
                sent_at[item["message_id"]] = before
        deadline = time.time() + 600
        while len(provider.arrivals) < len(sent_at) and time.time() < deadline:
            time.sleep(0.05)
        arrived = [mid for mid in sent_at if mid in provider.arrivals]
        last = max(provider.arrivals[mid] for mid in arrived)
        latencies = [provider.arrivals[mid] - sent_at[mid] for mid in arrived]
        results["p2_messages_per_s"] = len(arrived) / (last - started_wall)
        results["p2_latency_p50_ms"] = statistics.median(latencies) * 1000
        results["p2_latency_p99_ms"] = percentile(latencies, 99) * 1000
        results["p2_delivered"] = len(arrived)
        results["p2_sent"] = len(sent_at)
    except _Skip:
        pass
    finally:
        procs.stop_all()
        broker.flushdb()
        provider.server.shutdown()
        slow_provider.close()

    print()
    for name, label in (("p2b", "P2b"), ("p2b-push", "P2b-push")):
        if name in results:
            floor = results["p2_floor_tasks_per_s"]
            print(single.report(label, results[name], floor, args.concurrency))
    if "p1" in only:
        print(
            f"P1 ingest      {results['p1_receivers_per_s']:>10,.0f} receivers/s   floor (raw Celery publish, 1 task/message) {results['p1_floor_publish_per_s']:>8,.0f}/s   = {results['p1_receivers_per_s'] / results['p1_floor_publish_per_s']:.1f}x   target >= 40,000/s"
        )
    if "p2" in only:
        print(
            f"P2 end-to-end  {results['p2_messages_per_s']:>10,.0f} messages/s    floor (raw Celery publish+no-op, 1 task/message) {results['p2_floor_tasks_per_s']:>6,.0f}/s   = {results['p2_messages_per_s'] / results['p2_floor_tasks_per_s']:.1f}x   target >= 8x"
        )
        print(
            f"               latency API call -> provider: p50 {results['p2_latency_p50_ms']:,.0f} ms, p99 {results['p2_latency_p99_ms']:,.0f} ms ({results['p2_delivered']:,}/{results['p2_sent']:,} delivered)"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
