"""Run a command against a throwaway 3-node Redis Cluster on this machine.

    python -m tests.redis_cluster pytest tests/rules

starts three `redis-server --cluster-enabled yes` nodes on free ports in a temporary
directory, joins them with `redis-cli --cluster create`, runs the command with
REDIS_URL=redis+cluster://… (Django's cache stays on the plain Redis it had, through
TIDINGS_CACHE_URL), then stops the nodes by PID and removes their files. The exit code is
the command's.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

NODES = 3


def _free_port() -> int:
    # A cluster node also listens on port + 10000 (the bus port): both must be free.
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _wait_ping(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
        )
        if answer.stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    raise RuntimeError(f"redis node on port {port} did not start")


def _wait_cluster_ok(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = subprocess.run(
            ["redis-cli", "-p", str(port), "cluster", "info"],
            capture_output=True,
            text=True,
            check=False,
        )
        if "cluster_state:ok" in info.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError("redis cluster did not reach cluster_state:ok")


def run(command: Sequence[str]) -> int:
    workdir = tempfile.mkdtemp(prefix="tidings-redis-cluster-")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ports = [_free_port() for _ in range(NODES)]
        for port in ports:
            node_dir = os.path.join(workdir, str(port))
            os.makedirs(node_dir)
            processes.append(
                subprocess.Popen(  # noqa: S603 - a fixed program with our own arguments
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "5000",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        node_dir,
                        "--logfile",
                        os.path.join(node_dir, "log"),
                    ],  # fmt: skip
                    stdout=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait_ping(port)
        subprocess.run(  # noqa: S603
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],  # fmt: skip
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for port in ports:
            _wait_cluster_ok(port)
        env = dict(os.environ)
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
        env["TIDINGS_CACHE_URL"] = env["REDIS_URL"]
        env["REDIS_URL"] = f"redis+cluster://127.0.0.1:{ports[0]}"
        print(f"Redis Cluster of {NODES} nodes on ports {ports}: {env['REDIS_URL']}", flush=True)  # noqa: T201
        return subprocess.run(list(command), env=env, check=False).returncode  # noqa: S603
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
