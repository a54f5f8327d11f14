"""REDIS_URL forms beyond a single server: a Sentinel-managed master (a real redis-server and
a real sentinel on free ports), and the hash-tag rule the cluster scripts rely on."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from config.redis import get_redis, hash_tag
from notify.rules import scripts


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(predicate, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def sentinel_pair(tmp_path):
    """A master and one sentinel watching it as service `tidings`."""
    master, sentinel = _free_port(), _free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor tidings 127.0.0.1 {master} 1\n"
    )
    processes = [
        subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(master),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL),
    ]
    try:
        yield master, sentinel
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


def test_sentinel_url_reaches_the_master_it_names(sentinel_pair, settings):
    # given a sentinel that knows the master as `tidings`
    master, sentinel = sentinel_pair

    def answers() -> bool:
        probe = subprocess.run(
            ["redis-cli", "-p", str(sentinel), "sentinel", "get-master-addr-by-name", "tidings"],
            capture_output=True,
            text=True,
            check=False,
        )
        return str(master) in probe.stdout

    assert _wait(answers)

    # when the app's client is built from a sentinel URL and writes through it
    settings.REDIS_URL = f"redis+sentinel://127.0.0.1:{sentinel}/tidings/3"
    get_redis().set("tidings:probe", "yes")

    # then the value is in database 3 of that master
    direct = subprocess.run(
        ["redis-cli", "-p", str(master), "-n", "3", "get", "tidings:probe"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert direct.stdout.strip() == "yes"


def test_rule_keys_of_one_shard_share_a_hash_tag():
    dedup = scripts.key("dedup", 7, 12, "abc")
    freq = scripts.key("freq", 7, "email", "r", "20260101")
    other = scripts.key("freq", 8, "email", "r", "20260101")
    assert hash_tag(dedup) == hash_tag(freq) == "7"
    assert hash_tag(other) == "8"
    assert hash_tag("plain-key") == "plain-key"


@pytest.mark.skipif("cluster" not in os.environ.get("REDIS_URL", ""), reason="needs a cluster")
def test_window_admit_spans_shards_on_a_cluster():
    # given entries of two Apps, whose keys hash to different slots
    entries = [
        (scripts.key("freq", app, "email", "r", "d"), f"m{app}-{n}", 60_000, 1)
        for app in (1, 2)
        for n in range(2)
    ]
    # when they are admitted in one call, then each shard admits its first member only
    assert scripts.window_admit(entries) == [True, False, True, False]
