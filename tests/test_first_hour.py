"""A newcomer's first hour, against a live `make run`-like stack: runlocal in a subprocess
(SQLite, filesystem broker, no server; its own port and var dir), as `make run` starts it.

- the banner comes once web listens, with an `export KEY=` line and no kombu noise;
- the README's examples (parsed out of README.md) all deliver; a repeat is DEDUP_CONTENT and
  `tidings trace` shows why, as the README says;
- `tidings doctor` against it prints all OK;
- Ctrl-C stops everything; a second run prints the same key, which still works;
- nothing is written into the checkout (git status unchanged);
- a busy port is reported before anything starts."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tidings_client import Tidings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
README_URL = "http://127.0.0.1:8000"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(var_dir: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "TIDINGS_PUBLIC_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        TIDINGS_VAR_DIR=str(var_dir),
        TIDINGS_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    return env


class Stack:
    """`python manage.py runlocal` (what `make run` runs) with its output collected."""

    def __init__(self, var_dir: Path, port: int):
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.env = _env(var_dir, port)
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "runlocal"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.key: str | None = None
        self.listening_at_banner: bool | None = None
        self.banner = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.banner.wait(180):
            self.stop()
            raise AssertionError("no banner:\n" + "".join(self.lines[-60:]))

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.match(r"\s*export KEY=(\S+)", line)
            if found and not self.banner.is_set():
                with socket.socket() as probe:
                    self.listening_at_banner = probe.connect_ex(("127.0.0.1", self.port)) == 0
                self.key = found[1]
                self.banner.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def manage(self, *args: str, key: bool = True) -> subprocess.CompletedProcess:
        env = {**self.env, **({"TIDINGS_API_KEY": self.key} if key else {})}
        return subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip

    def stop(self) -> None:
        """Ctrl-C: SIGINT to runlocal, which stops web, worker and beat."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _git_status() -> str | None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        return None
    return subprocess.run(  # noqa: S603
        ["git", "status", "--porcelain", "--untracked-files=all"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def _readme_blocks(language: str) -> list[str]:
    section = README.split("## Send a message", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def _shell_commands(block: str) -> list[str]:
    """The block's commands: paragraphs without their `# answer` comment lines."""
    commands = []
    for paragraph in block.split("\n\n"):
        lines = [line for line in paragraph.splitlines() if not line.lstrip().startswith("#")]
        if lines:
            commands.append("\n".join(lines))
    return commands


def _run_shell(command: str, stack: Stack, message_id: str | None) -> str:
    command = command.replace(README_URL, stack.url)
    if message_id:
        command = command.replace("<message_id>", message_id)
    assert "<" not in command, command
    done = subprocess.run(  # noqa: S603
        ["bash", "-c", command],  # noqa: S607
        env={**os.environ, "KEY": stack.key}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def stack_dir(tmp_path):
    return tmp_path / "var"


def test_make_run_readme_examples_doctor_and_restart(stack_dir):
    before = _git_status()
    stack = Stack(stack_dir, _free_port())
    try:
        assert stack.listening_at_banner is True
        assert "No hostname was supplied" not in stack.output
        assert (stack_dir / "demo-api-key").read_text().strip() == stack.key
        client = Tidings(stack.url, stack.key)

        # README, curl: send, then read the message back; it is SENT.
        sent_ids = []
        for block in _readme_blocks("sh"):
            message_id = None
            for command in _shell_commands(block):
                body = json.loads(_run_shell(command, stack, message_id))
                if "accepted" in body:  # the send answer (a message also has request_id)
                    assert body["accepted"] == 1, body
                    message_id = body["messages"][0]["message_id"]
                    sent_ids.append(message_id)
                else:
                    assert body["message_id"] == message_id
        assert sent_ids
        for message_id in sent_ids:
            assert client.wait_for(message_id, "SENT", timeout=60)

        # README, Python client: runs as written and prints SENT traces.
        for block in _readme_blocks("python"):
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-c", block.replace(README_URL, stack.url)],
                env={**os.environ, "KEY": stack.key}, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert done.stdout.count("'SENT'") == 2, done.stdout

        # README, dedup: the first example again is DEDUP_CONTENT, and the trace says why.
        first = _shell_commands(_readme_blocks("sh")[0])[0]
        repeat = json.loads(_run_shell(first, stack, None))["messages"][0]["message_id"]
        with pytest.raises(Exception, match="DEDUP_CONTENT"):
            client.wait_for(repeat, "SENT", timeout=60)
        trace = stack.manage("tidings", "trace", repeat)
        assert trace.returncode == 0, trace.stderr
        readme_trace = README.split("tidings trace <message_id>`:", 1)[1].split("```", 2)[1]
        assert [line.split()[2] for line in readme_trace.strip().splitlines()[1:]] == [
            line.split()[2] for line in trace.stdout.splitlines()[1:]
        ], trace.stdout
        assert "same content sent to this receiver" in trace.stdout

        # tidings doctor: every line OK (once beat and the worker marked themselves).
        deadline = time.monotonic() + 60
        while True:
            doctor = stack.manage("tidings", "doctor", key=False)
            if doctor.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        verdicts = [line.split()[0] for line in doctor.stdout.splitlines()[1:-1]]
        assert verdicts and set(verdicts) == {"OK"}, doctor.stdout
        assert f"127.0.0.1:{stack.port}" in doctor.stdout  # the public URL follows the port

        # tidings send (over the API with make run's demo key from var/), waiting for SENT.
        # --timeout above a lease plus a sweep: on this SQLite demo stack a worker that lost
        # its batch to a lock wait (seen once under CI load) gets it back from the sweeper.
        send = stack.manage("tidings", "send", "login-code", "+14155550100", "--var", "code=4711", "--wait", "SENT", "--timeout", "150", key=False)  # fmt: skip
        assert send.returncode == 0, send.stderr
        assert "1 accepted" in send.stdout and send.stdout.rstrip().endswith("SENT"), send.stdout

        # tidings replay: the client side of POST /api/v1/messages/replay (dry run).
        if (
            "/api/v1/messages/replay"
            in client.session.get(f"{stack.url}/api/schema/?format=json").text
        ):
            replay = stack.manage("tidings", "replay", "--template", "welcome", "--state", "DEDUP_CONTENT")  # fmt: skip
            assert replay.returncode == 0, replay.stderr
            assert json.loads(replay.stdout)
    except BaseException:
        # What web, worker and beat printed (pytest shows it with the failure): a stack that
        # stopped mid-test says here which process went first, and why.
        sys.stderr.write(stack.output[-20_000:])
        raise
    finally:
        stack.stop()
    assert stack.process.returncode is not None
    time.sleep(1)
    with socket.socket() as probe:  # web is gone with it
        assert probe.connect_ex(("127.0.0.1", stack.port)) != 0

    again = Stack(stack_dir, stack.port)
    try:
        assert again.key == stack.key
        assert "same key as last run" in again.output
        Tidings(again.url, again.key).message(sent_ids[0])  # the kept key still works
    finally:
        again.stop()
    after = _git_status()
    assert after == before, f"make run wrote into the checkout:\n{after}"


def test_busy_port_is_reported_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "runlocal"],
            cwd=ROOT, env=_env(tmp_path / "var", port), capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    assert done.returncode != 0
    assert f"port {port}" in done.stderr and f"make run PORT={port + 1}" in done.stderr
    assert "export KEY" not in done.stdout and "API key" not in done.stdout
    assert not (tmp_path / "var" / "demo-api-key").exists()
