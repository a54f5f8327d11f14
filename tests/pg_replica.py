"""A private PostgreSQL primary with a streaming replica, for tests of replica reads.

`replica_pair()` runs `initdb` in a temporary directory (as the `postgres` user when this
runs as root: initdb refuses root), starts the primary on a free port with replication open
to loopback, clones it with `pg_basebackup -R` and starts the clone as a hot standby on a
second free port. Both are stopped by `pg_ctl` and their files removed on exit. The shared
server on 5432 is never touched.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplicaPair:
    primary_port: int
    replica_port: int

    def url(self, port: int, database: str = "tidings") -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{database}"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    subprocess.run(_as_postgres(command), check=True, capture_output=True)  # noqa: S603


def _psql(port: int, sql: str, database: str = "postgres") -> str:
    answer = subprocess.run(  # noqa: S603
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    return answer.stdout.strip()


def _wait(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError("the PostgreSQL pair did not come up")


@contextlib.contextmanager
def replica_pair(database: str = "tidings") -> Iterator[ReplicaPair]:
    workdir = tempfile.mkdtemp(prefix="tidings-pg-replica-")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
    primary_dir, replica_dir = f"{workdir}/primary", f"{workdir}/replica"
    pair = ReplicaPair(_free_port(), _free_port())
    started: list[str] = []
    try:
        _run(
            [
                _bin("initdb"),
                "-D",
                primary_dir,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "-N",
            ]
        )
        with open(f"{primary_dir}/pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        options = f"-p {pair.primary_port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run([_bin("pg_ctl"), "-D", primary_dir, "-o", options, "-l", f"{workdir}/primary.log",
              "-w", "start"])  # fmt: skip
        started.append(primary_dir)
        _psql(pair.primary_port, f"CREATE DATABASE {database}")
        _run([_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(pair.primary_port),
              "-U", "postgres", "-D", replica_dir, "-R", "-X", "stream", "-c", "fast"])  # fmt: skip
        options = f"-p {pair.replica_port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run([_bin("pg_ctl"), "-D", replica_dir, "-o", options, "-l", f"{workdir}/replica.log",
              "-w", "start"])  # fmt: skip
        started.append(replica_dir)
        _wait(lambda: _psql(pair.replica_port, "SELECT pg_is_in_recovery()") == "t")
        yield pair
    finally:
        for data_dir in reversed(started):
            subprocess.run(  # noqa: S603
                _as_postgres([_bin("pg_ctl"), "-D", data_dir, "-m", "immediate", "stop"]),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(workdir, ignore_errors=True)


def replay_pause(pair: ReplicaPair, paused: bool) -> None:
    """Stop (or resume) applying the primary's changes on the replica: replication lag on
    demand."""
    _psql(pair.replica_port, f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")
