"""`make chaos`: faults injected into a running Tidings, then what became of every message.

Everything runs on PRIVATE servers this script starts and stops itself, never the shared
ones other tests use: a PostgreSQL cluster (`initdb` in a temp dir, port 55432), a Redis
server (port 56379) and, for the RabbitMQ scenarios, a RabbitMQ node (chaos@localhost, port
55672). On them it runs the documented topology with production settings: gunicorn, one
worker per lane group (high, normal, low, housekeeping) and beat, plus a local fake webhook
provider that records every request (message id, Idempotency-Key, its answer) and can
inject faults.

Scenarios (`--scenario`, repeatable; default all):
  R1       SIGKILL a worker every 5 s during the sends (pool child and main, alternating)
  R2       Redis SIGKILLed and restarted empty mid-run
  R2-aof   the same with appendonly (AOF, fsync every second)
  R3       PostgreSQL stopped (`pg_ctl stop -m immediate`) for 20 s mid-run
  R4       while the sends go on, the provider answers 30% 500, 10% timeouts, 10% 429 +
           Retry-After; 1% of the messages get a permanent 400 throughout (--r4-endless:
           the brownout goes on through the drain)
  R1-amqp  R1 on RabbitMQ
  R5-amqp  the RabbitMQ node stopped and restarted mid-run
Message counts: `--messages N` for every scenario (defaults: 100,000 for R1, 20,000 for R4,
20,000 for the others). Example: `python bench/chaos.py --scenario R3 --messages 2000`.

Per scenario it prints: accepted, delivered, lost, duplicates at the provider (raw / with
the same idempotency key), final states, incomplete or non-monotonic traces, re-enqueue
events per message, time to drain after the fault, and the API's and /healthz/ready's
answers during the fault.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PG_PORT = int(os.environ.get("CHAOS_PG_PORT", "55432"))
REDIS_PORT = int(os.environ.get("CHAOS_REDIS_PORT", "56379"))
RABBIT_PORT = int(os.environ.get("CHAOS_RABBITMQ_PORT", "55672"))
RABBIT_NODE = f"chaos{RABBIT_PORT}@localhost"
DB_NAME = "tidings_chaos"
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)

# Production settings; only the clocks are shortened so a scenario takes minutes, not hours
# (each can be overridden from the environment).
KNOBS = {
    "TIDINGS_PROVIDER_TIMEOUT_SECONDS": "2",
    "TIDINGS_SWEEP_INTERVAL_SECONDS": "10",
    "TIDINGS_STUCK_AFTER_SECONDS": "30",
    "TIDINGS_CLAIM_LEASE_SECONDS": "60",
    "TIDINGS_RETRY_BASE_SECONDS": "1",
    "TIDINGS_RETRY_MAX_SECONDS": "30",
}
DEFAULT_MESSAGES = {"R1": 100_000, "R4": 20_000}
SCENARIOS = ["R1", "R2", "R2-aof", "R3", "R4", "R1-amqp", "R5-amqp"]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def as_postgres(cmd: list[str]) -> list[str]:
    """initdb/pg_ctl refuse root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


# --- private servers -------------------------------------------------------------------------


class PrivatePostgres:
    def __init__(self, base: Path) -> None:
        if PG_BIN is None:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        if port_open(PG_PORT):
            raise RuntimeError(f"port {PG_PORT} is taken: another chaos run?")
        self.data = base / "pg"
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(base, "postgres")
            shutil.chown(self.data, "postgres")
        subprocess.run(  # noqa: S603
            as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"]),
            check=True, capture_output=True,
        )  # fmt: skip
        self.url = f"postgres://postgres@127.0.0.1:{PG_PORT}"

    def start(self) -> None:
        options = f"-p {PG_PORT} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off"
        subprocess.run(  # noqa: S603
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "log"), "-o", options, "-w", "start"]),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(  # noqa: S603
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=False, capture_output=True,
        )  # fmt: skip


class PrivateRedis:
    def __init__(self, base: Path) -> None:
        if port_open(REDIS_PORT):
            raise RuntimeError(f"port {REDIS_PORT} is taken: another chaos run?")
        self.dir = base / "redis"
        self.dir.mkdir()
        self.process: subprocess.Popen | None = None
        self.aof = False

    def start(self, *, aof: bool | None = None, fresh: bool = False) -> None:
        if aof is not None:
            self.aof = aof
        if fresh:
            shutil.rmtree(self.dir)
            self.dir.mkdir()
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"]
            if self.aof
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.dir), *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_for(lambda: port_open(REDIS_PORT), 20, "private Redis")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class PrivateRabbit:
    """A RabbitMQ node of its own (name, port, data and config), never the shared 5672."""

    def __init__(self, base: Path) -> None:
        if shutil.which("rabbitmq-server") is None:
            raise RuntimeError("rabbitmq-server is not installed")
        if port_open(RABBIT_PORT):
            raise RuntimeError(f"port {RABBIT_PORT} is taken: another chaos run?")
        self.dir = base / "rabbitmq"
        self.dir.mkdir()
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{RABBIT_PORT}\nloopback_users.guest = true\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:  # Debian's wrapper runs the node as the rabbitmq user
            for path in (self.dir, self.dir / "rabbitmq.conf", self.dir / "enabled_plugins"):
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": RABBIT_NODE,
            "RABBITMQ_NODE_PORT": str(RABBIT_PORT),
            "RABBITMQ_DIST_PORT": str(RABBIT_PORT + 1),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }
        self.url = f"amqp://guest:guest@127.0.0.1:{RABBIT_PORT}//"

    def ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603
            ["rabbitmqctl", "-n", RABBIT_NODE, *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def start(self) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True)  # noqa: S603, S607
        self.ctl("await_startup", timeout=180)
        wait_for(lambda: port_open(RABBIT_PORT), 120, "private RabbitMQ")

    def stop(self) -> None:
        self.ctl("stop", timeout=120)
        wait_for(lambda: not port_open(RABBIT_PORT), 60, "RabbitMQ to stop")


# --- the fake provider ---------------------------------------------------------------------


@dataclass
class Faults:
    error_500: float = 0.0
    timeout: float = 0.0
    too_many: float = 0.0
    permanent: float = 0.0  # share of messages (by id) that always get a 400
    sleep: float = 3.0  # a "timeout" holds the request this long (> provider timeout)


class Provider:
    """Webhook receiver that records every request and injects the configured faults."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.lock = threading.Lock()
        # message_id -> [(idempotency key, status)]
        self.requests: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
        self.random = random.Random(7)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no delayed-ACK stall: see fakes_http.py
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                messages = body.get("messages", [body])
                status = outer.decide([m["message_id"] for m in messages])
                if status == 0:  # timeout: answer after the client gave up
                    time.sleep(outer.faults.sleep)
                    status = 504
                with outer.lock:
                    for message in messages:
                        key = self.headers.get("Idempotency-Key") or message["message_id"]
                        outer.requests[message["message_id"]].append((key, status))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "2")
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A worker SIGKILLed mid-request resets its connection: expected here, not news.
        self.server.handle_error = lambda request, client_address: None
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def decide(self, message_ids: list[str]) -> int:
        faults = self.faults
        if faults.permanent and any(
            int(hashlib.sha256(m.encode()).hexdigest()[:8], 16) % 10_000 < faults.permanent * 10_000
            for m in message_ids
        ):
            return 400
        with self.lock:
            roll = self.random.random()
        for share, status in ((faults.error_500, 500), (faults.timeout, 0), (faults.too_many, 429)):
            if roll < share:
                return status
            roll -= share
        return 200

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
        self.faults = Faults()


# --- the Tidings processes -----------------------------------------------------------------


class Processes:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.running: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, list[str]] = {}

    def start(
        self, name: str, cmd: list[str], ready: str | None = None, timeout: float = 120
    ) -> None:
        logfile = open(self.logdir / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(  # noqa: S603
            cmd, cwd=ROOT, env=self.env, stdout=logfile, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.running[name] = process
        self.commands[name] = cmd
        if ready:
            path = self.logdir / f"{name}.log"
            start = path.stat().st_size if path.exists() else 0

            def seen() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited: see {path}")
                with open(path, errors="replace") as handle:
                    handle.seek(0 if start > path.stat().st_size else start)
                    return ready in handle.read()

            wait_for(seen, timeout, f"{name} to start")

    def restart(self, name: str, ready: str | None = " ready.") -> None:
        self.start(name, self.commands[name], ready)

    def revive(self) -> list[str]:
        """Start again every process that exited on its own, as the deployment's supervisor
        does (compose: `restart: unless-stopped`); returns their names."""
        exited = [name for name, process in self.running.items() if process.poll() is not None]
        for name in exited:
            self.start(name, self.commands[name])
        return exited

    def killpg(self, name: str) -> None:
        process = self.running[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def pool_children(self, name: str) -> list[int]:
        parent = self.running[name].pid
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    children.append(int(stat.parent.name))
        return children

    def stop_all(self) -> None:
        for process in list(self.running.values()):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        self.running.clear()


def topology(
    lanes_by_priority: dict[str, list[str]], housekeeping: list[str], scale: float
) -> dict[str, tuple[list[str], int]]:
    """The worker groups of docs/operations.md (concurrency scaled for small machines)."""

    def c(n: int) -> int:
        return max(1, round(n * scale))

    return {
        "worker-high": (lanes_by_priority["high"], max(2, c(4))),
        "worker-normal": (lanes_by_priority["normal"], c(4)),
        "worker-low": (lanes_by_priority["low"], c(2)),
        "worker-hk": (housekeeping, c(2)),
    }


def celery_worker(name: str, queues: list[str], concurrency: int) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(queues),
            "-c", str(concurrency), "-l", "info", "-n", f"{name}@%h", "--without-gossip",
            "--without-mingle"]  # fmt: skip


# --- one scenario ----------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    messages: int
    accepted: list[str] = field(default_factory=list)
    answers: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, status)
    health: list[tuple[float, int, str]] = field(default_factory=list)  # (time, code, database)
    started: float = 0.0
    fault_start: float = 0.0
    fault_end: float = 0.0
    sending_done: float = 0.0
    drained_at: float | None = None
    # Processes that died on their own (not killed by the scenario) and were started again.
    supervisor_restarts: list[str] = field(default_factory=list)


class Sender:
    """Sends `messages` receivers in calls spread over `seconds`; a call that fails is
    retried with the same Idempotency-Key until accepted, as a well-behaved caller would."""

    def __init__(self, base: str, key: str, run: Run, seconds: float, call_size: int) -> None:
        self.base, self.run, self.seconds, self.call_size = base, run, seconds, call_size
        self.headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        self.thread = threading.Thread(target=self._send, daemon=True)

    def _send(self) -> None:
        run = self.run
        calls = (run.messages + self.call_size - 1) // self.call_size
        interval = self.seconds / calls
        started = time.monotonic()
        for index in range(calls):
            first = index * self.call_size
            count = min(self.call_size, run.messages - first)
            body = json.dumps({
                "template": "chaos",
                "receivers": [f"user-{first + i}" for i in range(count)],
                "variables": {"order": str(index)},
            })  # fmt: skip
            headers = {**self.headers, "Idempotency-Key": f"{run.name}-{index}"}
            while True:
                called = time.monotonic()
                try:
                    response = requests.post(
                        f"{self.base}/api/v1/send", data=body, headers=headers, timeout=60
                    )
                    status = str(response.status_code)
                except requests.RequestException as exc:
                    response, status = None, type(exc).__name__
                run.answers.append((called, time.monotonic(), status))
                if response is not None and response.status_code == 202:
                    run.accepted.extend(m["message_id"] for m in response.json()["messages"])
                    break
                retry_after = 1.0
                if response is not None:
                    with contextlib.suppress(ValueError):
                        retry_after = float(response.headers.get("Retry-After", "1"))
                time.sleep(min(retry_after, 5.0))
            delay = started + (index + 1) * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        run.sending_done = time.monotonic()

    def start(self) -> None:
        self.thread.start()

    def join(self) -> None:
        self.thread.join()


def poll_health(base: str, run: Run, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            response = requests.get(f"{base}/healthz/ready", timeout=5)
            try:
                database = response.json()["checks"]["database"]["status"]
            except (ValueError, KeyError):
                database = "?"
            run.health.append((time.monotonic(), response.status_code, database))
        except requests.RequestException as exc:
            run.health.append((time.monotonic(), 0, type(exc).__name__))
        stop.wait(1.0)


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base_dir = Path(tempfile.mkdtemp(prefix="tidings-chaos-"))
        os.chmod(self.base_dir, 0o755)
        self.logdir = self.base_dir / "logs"
        self.logdir.mkdir()
        self.pg = PrivatePostgres(self.base_dir)
        self.redis = PrivateRedis(self.base_dir)
        self.rabbit: PrivateRabbit | None = None
        self.provider = Provider()
        self.web_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"

    def env(self, broker: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "chaos-secret-key-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_COOKIES": "false",
            # Production settings, minus TLS: gunicorn serves plain HTTP on loopback here.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "TIDINGS_PUBLIC_URL": "http://127.0.0.1",
            "TIDINGS_ANYMAIL_WEBHOOK_SECRET": "chaos:webhook-secret",
            # The fake provider listens on loopback; the sends must not be rate limited.
            "TIDINGS_EGRESS_ALLOWLIST": "127.0.0.1",
            "TIDINGS_API_RATE_LIMIT": "1000000/s",
            "TIDINGS_ENCRYPTION_KEYS": "Y2hhb3MtY2hhb3MtY2hhb3MtY2hhb3MtY2hhb3MtY2g=",
            "TIDINGS_ENVIRONMENT": "production",
            "TIDINGS_LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"{self.pg.url}/{DB_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/1",
            "CELERY_BROKER_URL": broker,
            "PYTHONPATH": str(ROOT),
        }
        for key, value in KNOBS.items():
            env[key] = os.environ.get(key, value)
        return env

    # -- setup per scenario
    def prepare(self, run: Run, broker: str) -> tuple[Processes, str]:
        import psycopg

        with psycopg.connect(f"{self.pg.url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        env = self.env(broker)
        manage = [sys.executable, "manage.py"]
        for command in (["migrate", "-v0"], ["setup_periodic_tasks"]):
            subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
        setup = subprocess.run(  # noqa: S603
            [*manage, "shell", "-c", SETUP_SNIPPET.replace("PROVIDER_URL", self.provider.url)
             .replace("BATCH_SIZE", str(self.args.batch_size))],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        key = setup.stdout.strip().splitlines()[-1]
        procs = Processes(env, self.logdir / run.name)
        (self.logdir / run.name).mkdir()
        # A process that does not come up must not outlive the run: stop what started.
        try:
            procs.start(
                "web",
                [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(self.args.web_workers),
                 "-b", f"127.0.0.1:{self.web_port}", "--timeout", "120"],
                ready="Booting worker",
            )  # fmt: skip
            lanes = lanes_for(env)
            for name, (queues, concurrency) in topology(
                lanes, ["housekeeping", "campaigns"], self.args.scale
            ).items():
                procs.start(name, celery_worker(name, queues, concurrency), ready=" ready.")
            procs.start("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "warning",
                                 "-s", str(self.logdir / run.name / "beat-schedule")])  # fmt: skip
            wait_for(lambda: _ready(self.base), 60, "web readiness")
        except BaseException:
            procs.stop_all()
            raise
        return procs, key

    def scenario(self, name: str) -> dict:
        args = self.args
        messages = args.messages or DEFAULT_MESSAGES.get(name.split("-")[0], 20_000)
        run = Run(name, messages)
        amqp = name.endswith("-amqp")
        self.provider.reset()
        # Fresh broker and shared state for every scenario.
        self.redis.stop()
        self.redis.start(aof=name == "R2-aof", fresh=True)
        if amqp:
            if self.rabbit is None:
                self.rabbit = PrivateRabbit(self.base_dir)
                self.rabbit.start()
            self.rabbit.ctl("delete_vhost", "chaos")
            self.rabbit.ctl("add_vhost", "chaos")
            self.rabbit.ctl("set_permissions", "-p", "chaos", "guest", ".*", ".*", ".*")
            broker = self.rabbit.url.rstrip("/") + "/chaos"
        else:
            broker = f"redis://127.0.0.1:{REDIS_PORT}/0"
        log(f"{name}: preparing ({messages:,} messages, broker {broker.split('@')[-1]})")
        procs, key = self.prepare(run, broker)
        stop_health = threading.Event()
        health = threading.Thread(
            target=poll_health, args=(self.base, run, stop_health), daemon=True
        )
        health.start()
        call_size = args.call_size or max(10, min(1000, messages // 60))
        sender = Sender(self.base, key, run, args.send_seconds, call_size)
        try:
            started = run.started = time.monotonic()
            if name == "R4":
                self.provider.faults = Faults(
                    error_500=0.30, timeout=0.10, too_many=0.10, permanent=0.01
                )
            sender.start()
            run.fault_start = time.monotonic()
            self.inject(name, run, procs, started)
            sender.join()
            if name == "R4" and not args.r4_endless:
                # The brownout ends with the sends; the bad requests stay bad.
                self.provider.faults = Faults(permanent=0.01)
                run.fault_end = time.monotonic()
                log(f"{name}: the provider recovers (its permanent 400s stay)")
            elif name == "R4":  # --r4-endless: it misbehaves through the drain too
                run.fault_end = run.sending_done
            log(f"{name}: fault over, {len(run.accepted):,} accepted; draining")
            run.drained_at = self.drain(run, procs)
        finally:
            stop_health.set()
            health.join(10)
            procs.stop_all()
        return self.report(run)

    def inject(self, name: str, run: Run, procs: Processes, started: float) -> None:
        args = self.args
        outage_at = started + args.send_seconds / 3
        if name in ("R1", "R1-amqp"):
            main = True
            run.fault_start = time.monotonic()
            while run.sending_done == 0:
                time.sleep(5)
                if run.sending_done:
                    break
                main = not main
                if main:
                    log(f"{name}: SIGKILL worker-normal (main and pool)")
                    procs.killpg("worker-normal")
                    procs.restart("worker-normal")
                else:
                    children = procs.pool_children("worker-normal")
                    if children:
                        victim = random.choice(children)  # noqa: S311
                        log(f"{name}: SIGKILL a pool child ({victim})")
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(victim, signal.SIGKILL)
            run.fault_end = time.monotonic()
        elif name in ("R2", "R2-aof"):
            time.sleep(max(0.0, outage_at - time.monotonic()))
            run.fault_start = time.monotonic()
            log(f"{name}: SIGKILL Redis")
            self.redis.kill()
            time.sleep(args.redis_outage)
            self.redis.start()  # same dir: empty without AOF, replayed with it
            run.fault_end = time.monotonic()
            log(f"{name}: Redis back")
        elif name == "R3":
            time.sleep(max(0.0, outage_at - time.monotonic()))
            run.fault_start = time.monotonic()
            log(f"{name}: pg_ctl stop -m immediate")
            self.pg.stop("immediate")
            time.sleep(args.pg_outage)
            self.pg.start()
            run.fault_end = time.monotonic()
            log(f"{name}: PostgreSQL back")
        elif name == "R5-amqp":
            time.sleep(max(0.0, outage_at - time.monotonic()))
            run.fault_start = time.monotonic()
            log(f"{name}: RabbitMQ node stop")
            self.rabbit.stop()
            self.rabbit.start()
            run.fault_end = time.monotonic()
            log(f"{name}: RabbitMQ back")
        else:  # R4: the provider misbehaves while the sends go on
            run.fault_start = time.monotonic()

    def drain(self, run: Run, procs: Processes) -> float | None:
        import psycopg

        deadline = time.monotonic() + self.args.drain_timeout
        last_log = 0.0
        while time.monotonic() < deadline:
            for name in procs.revive():
                run.supervisor_restarts.append(name)
                log(f"{run.name}: {name} had exited; restarted (the supervisor's job)")
            try:
                with psycopg.connect(f"{self.pg.url}/{DB_NAME}", connect_timeout=5) as conn:
                    pending = conn.execute(
                        "SELECT count(*) FROM tracking_message WHERE state = ANY(%s)",
                        (list(ACTIVE),),
                    ).fetchone()[0]
            except psycopg.Error:
                pending = -1
            if pending == 0 and len(run.accepted) >= run.messages:
                return time.monotonic()
            if time.monotonic() - last_log > 15:
                log(f"{run.name}: {pending:,} messages pending")
                last_log = time.monotonic()
            time.sleep(1)
        return None

    # -- what became of every message
    def report(self, run: Run) -> dict:
        import psycopg

        with psycopg.connect(f"{self.pg.url}/{DB_NAME}") as conn:
            states = dict(
                conn.execute(
                    "SELECT state, count(*) FROM tracking_message GROUP BY state"
                ).fetchall()
            )
            # Why messages ended FAILED (R4: only the provider's permanent 400s should).
            failed_reasons = dict(
                conn.execute(
                    "SELECT left(last_error, 60), count(*) FROM tracking_message "
                    "WHERE state = 'FAILED' GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
                ).fetchall()
            )
            # A send's ACCEPTED and first QUEUED are derived from created_at and queued_at,
            # not stored (Message.trace_events).
            rows = conn.execute(
                "SELECT m.message_id::text, m.state, m.created_at, m.queued_at, "
                "e.state, e.detail, e.at, e.id "
                "FROM tracking_message m LEFT JOIN tracking_messageevent e ON e.message_id = m.id "
                "ORDER BY m.id, e.at, e.id"
            ).fetchall()
        traces: dict[str, list[tuple]] = collections.defaultdict(list)
        current: dict[str, str] = {}
        created_of: dict[str, object] = {}
        queued_of: dict[str, object] = {}
        for message_id, state, created_at, queued_at, event, detail, at, event_id in rows:
            events = traces[message_id]  # a message without stored events has a trace too
            if event is not None:
                events.append((event, detail, at, event_id))
            current[message_id] = state
            created_of[message_id] = created_at
            queued_of[message_id] = queued_at
        for message_id, events in traces.items():
            queued_at = queued_of[message_id]
            if queued_at is not None and not any(
                e[0] == "QUEUED" and e[2] == queued_at for e in events
            ):
                index = sum(1 for e in events if e[2] <= queued_at)
                events.insert(index, ("QUEUED", "lane", queued_at, 0))
            if not any(e[0] in ("ACCEPTED", "SCHEDULED") for e in events):
                events.insert(0, ("ACCEPTED", "", created_of[message_id], 0))
        incomplete, non_monotonic, requeues = [], [], collections.Counter()
        without_call = 0
        for message_id, events in traces.items():
            problem = trace_problem(current[message_id], events)
            if problem == "incomplete":
                incomplete.append(message_id)
            elif problem:
                non_monotonic.append((message_id, problem))
            without_call += outcome_without_call(events)
            requeues[message_id] = sum(
                1 for e in events if e[0] == "QUEUED" and e[1].startswith("re-enqueued")
            )
        accepted = set(run.accepted)
        with self.provider.lock:
            requests_seen = {m: list(v) for m, v in self.provider.requests.items()}
        delivered, raw_dups, same_key_dups = set(), 0, 0
        for message_id, attempts in requests_seen.items():
            ok = [key for key, status in attempts if 200 <= status < 300]
            if ok:
                delivered.add(message_id)
                raw_dups += len(ok) - 1
                same_key_dups += sum(1 for key in ok[1:] if key == ok[0])
        accounted = {m for m in accepted if current.get(m) not in (None, *ACTIVE, "SENT")}
        lost = accepted - delivered - accounted
        # A call belongs to the fault when it was made during it.
        in_window = [
            status for at, _end, status in run.answers if run.fault_start <= at <= run.fault_end
        ]
        timeline = [
            (round(at - run.fault_start, 1), round(end - at, 2), status)
            for at, end, status in run.answers
            if run.fault_start - 2 <= at <= run.fault_end + 2
        ]
        health_window = [
            f"{code} db={db}"
            for at, code, db in run.health
            if run.fault_start <= at <= run.fault_end
        ]
        counts = list(requeues.values()) or [0]
        return {
            "scenario": run.name,
            "messages": run.messages,
            "accepted": len(accepted),
            "delivered": len(delivered & accepted),
            "lost": len(lost),
            "lost_sample": sorted(lost)[:5],
            "sent_in_db_not_at_provider": len({m for m in accepted if current.get(m) == "SENT"} - delivered),
            "provider_requests": sum(len(v) for v in requests_seen.values()),
            "duplicates_raw": raw_dups,
            "duplicates_same_key": same_key_dups,
            "final_states": dict(sorted(states.items())),
            "failed_reasons": failed_reasons,
            "incomplete_traces": len(incomplete),
            "non_monotonic_traces": len(non_monotonic),
            "non_monotonic_sample": non_monotonic[:3],
            "attempts_without_provider_call": without_call,
            "reenqueue_events_max": max(counts),
            "reenqueue_events_mean": round(sum(counts) / len(counts), 3),
            "messages_over_2_reenqueues": sum(1 for c in counts if c > 2),
            "supervisor_restarts": run.supervisor_restarts,
            "fault_seconds": round(run.fault_end - run.fault_start, 1),
            "sends_seconds": round(run.sending_done - run.started, 1),
            # Messages sent after the fault cannot drain before they are sent: measured from
            # the later of the fault's end and the last accepted call.
            "drain_seconds_after_fault": None if run.drained_at is None else round(run.drained_at - max(run.fault_end, run.sending_done), 1),
            "api_answers_during_fault": dict(collections.Counter(in_window)),
            "ready_answers_during_fault": dict(collections.Counter(health_window)),
            "api_timeline_around_fault": timeline,
        }  # fmt: skip

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.redis.stop()
        with contextlib.suppress(Exception):
            self.pg.stop("fast")
        if self.rabbit is not None:
            with contextlib.suppress(Exception):
                self.rabbit.stop()
        self.provider.server.shutdown()
        for data in ("pg", "redis", "rabbitmq/mnesia"):  # keep the logs, drop the data
            shutil.rmtree(self.base_dir / data, ignore_errors=True)


ACTIVE = ("ACCEPTED", "QUEUED", "SENDING", "RETRYING", "SCHEDULED")
FINAL = {
    "SENT",
    "DELIVERED",
    "UNDELIVERED",
    "READ",
    "CLICKED",
    "FAILED",
    "EXPIRED",
    "RECALLED",
    "CANCELLED",
}
PROVIDER_OUTCOMES = {"SENT", "RETRYING"}


def trace_problem(state: str, events: list[tuple]) -> str:
    """ "incomplete" (no ACCEPTED first, or a final message without its final event), a
    description of a non-monotonic step (time going back, the lifecycle moving on after a
    final event, a provider outcome right after a re-enqueue with no SENDING between: the
    sweeper re-enqueued a message its worker was still sending), or "" for a sound trace."""
    names = [e[0] for e in events]
    if not names or names[0] not in ("ACCEPTED", "SCHEDULED"):
        return "incomplete"
    if state in FINAL and state not in names:
        return "incomplete"
    finished = False
    requeued = False
    for index, (event, detail, at, _id) in enumerate(events):
        if index and at < events[index - 1][2]:
            return f"time goes back at {event}"
        if finished and event in ("QUEUED", "SENDING", "RETRYING", "ACCEPTED"):
            return f"{event} after a final event"
        if requeued and event in PROVIDER_OUTCOMES:
            return f"{event} right after a re-enqueue, without SENDING"
        if event == "QUEUED":
            requeued = detail.startswith("re-enqueued")
        elif event == "SENDING":
            requeued = False
        if event in ("SENT", "FAILED", "EXPIRED", "CANCELLED", "RECALLED"):
            finished = True
    return ""


def outcome_without_call(events: list[tuple]) -> bool:
    """A RETRYING/SENT whose last lifecycle step was not SENDING: the attempt was spent
    without the provider being called (e.g. held back by an open circuit breaker)."""
    last = None
    for event, *_ in events:
        if event in PROVIDER_OUTCOMES and last != "SENDING":
            return True
        if event in ("QUEUED", "SENDING", "RETRYING", "ACCEPTED", "SCHEDULED"):
            last = event
    return False


def lanes_for(env: dict[str, str]) -> dict[str, list[str]]:
    out = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c",
         "import json; from notify.lanes import all_lanes; print(json.dumps(all_lanes()))"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    lanes: dict[str, list[str]] = collections.defaultdict(list)
    for lane in json.loads(out):
        lanes[lane.rsplit(".", 1)[1]].append(lane)
    return lanes


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


SETUP_SNIPPET = """
from channels_app.models import ChannelAccount
from notify.services import app_create
from templates_app.models import MessageTemplate
app, key = app_create("chaos")
account = ChannelAccount.objects.create(app=app, name="hook", channel="webhook", provider="webhook",
    config={"url": "PROVIDER_URL", "secret": "s", "batch_size": BATCH_SIZE})
MessageTemplate.objects.create(app=app, name="chaos", code="chaos", channel="webhook",
    receiver_type="user_id", content={"text": "Order {$order}"}, channel_account=account)
print(key)
"""


def print_report(result: dict) -> None:
    print()
    print(f"== {result['scenario']} ==")
    for key, value in result.items():
        if key != "scenario":
            print(f"  {key:30} {value}")
    sys.stdout.flush()


def _stop_on_signal(*_: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(143)


def main() -> int:
    # SIGTERM (a stopped `make chaos`) unwinds like Ctrl-C: every private server and process
    # started here is stopped by the `finally` blocks. Further signals are ignored from then
    # on: a second one (`timeout` passes its own on) would cut that clean-up short.
    signal.signal(signal.SIGTERM, _stop_on_signal)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario", action="append", choices=SCENARIOS, help="repeatable; default: all"
    )
    parser.add_argument(
        "--messages", type=int, default=0, help="per scenario (default: 100k R1, 20k others)"
    )
    parser.add_argument(
        "--send-seconds", type=float, default=60, help="the sends are spread over this long"
    )
    parser.add_argument(
        "--call-size", type=int, default=0, help="receivers per API call (default: messages/60)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=1, help="webhook messages per provider request"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="worker concurrency x this (docs topology = 1)"
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--pg-outage", type=float, default=20)
    parser.add_argument("--redis-outage", type=float, default=2)
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument(
        "--r4-endless",
        action="store_true",
        help="R4's provider keeps misbehaving through the drain (the drain is then bounded "
        "by the retry schedule, not by the fault)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    scenarios = args.scenario or SCENARIOS
    chaos = Chaos(args)
    log(
        f"private servers under {chaos.base_dir} (PostgreSQL :{PG_PORT}, Redis :{REDIS_PORT}, RabbitMQ :{RABBIT_PORT})"
    )
    log("knobs: " + ", ".join(f"{k}={os.environ.get(k, v)}" for k, v in KNOBS.items()))
    results = []
    try:
        chaos.pg.start()
        for name in scenarios:
            try:
                result = chaos.scenario(name)
            except Exception as exc:  # noqa: BLE001 - report and go on with the next one
                log(f"{name}: could not run: {type(exc).__name__}: {exc}")
                result = {"scenario": name, "error": f"{type(exc).__name__}: {exc}"}
            results.append(result)
            print_report(result)
    finally:
        chaos.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    log(f"logs kept in {chaos.logdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
