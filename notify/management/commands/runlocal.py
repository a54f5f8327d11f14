"""`make run`: migrate, load demo data, then run web + worker + beat until Ctrl-C.

Everything it writes lives under var/ (database, broker, cache, beat schedule, the demo
API key), so the checkout stays clean; the demo key survives restarts."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from notify.demo import demo_setup

HOST = "127.0.0.1"
WEB_START_SECONDS = 60


def port_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on host:port (a bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As runserver binds: connections of a previous run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_listening(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def demo_key_file() -> Path:
    return settings.VAR_DIR / "demo-api-key"


class Command(BaseCommand):
    help = "Run Tidings locally: web, one worker for every lane, and beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("TIDINGS_PORT") or 8000),
            help="web port (default: $TIDINGS_PORT or 8000); `make run PORT=8001`",
        )
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: Any, port: int, concurrency: int, **options: Any) -> None:
        # Before anything is printed or started: a busy port would otherwise show up as a
        # banner and a key followed by runserver's "That port is already in use".
        if not port_free(port):
            raise CommandError(
                f"port {port} on {HOST} is already in use (another `make run`?). "
                f"Pick another one: `make run PORT={port + 1}` or `TIDINGS_PORT={port + 1} make run`."
            )
        # Ctrl-C, and `kill` too, stop web, worker and beat (SIGINT is ignored in a process
        # started in the background by a script unless we ask for it back).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        call_command("migrate", verbosity=0)
        call_command("setup_periodic_tasks", stdout=io.StringIO())  # its list is noise here
        info = demo_setup(key_file=demo_key_file())
        python = sys.executable
        # --quiet: no 40-line queue banners burying ours.
        celery = [python, "-m", "celery", "-A", "config", "--quiet"]
        # Without a Redis server, rule state lives in one process: run one threaded worker.
        pool = [] if settings.REDIS_URL else ["--pool", "threads"]
        base = f"http://{HOST}:{port}"
        child_env = dict(os.environ)
        # Links and receipt URLs point at this server unless told otherwise.
        child_env.setdefault("TIDINGS_PUBLIC_URL", base)
        # Worker and beat log every task at INFO, every few seconds: the banner would scroll
        # away. Warnings and errors still show; TIDINGS_LOG_LEVEL=INFO brings the rest back.
        celery_level = os.environ.get("TIDINGS_LOG_LEVEL", "WARNING")
        commands = {
            "web": [python, "manage.py", "runserver", f"{HOST}:{port}", "--noreload"],
            "worker": [*celery, "worker", "--lanes", "all", "-c", str(concurrency), *pool, "-l", celery_level,
                       "--without-gossip", "--without-mingle", "--without-heartbeat"],
            "beat": [*celery, "beat", "-l", celery_level, "--schedule", str(settings.VAR_DIR / "beat-schedule")],
        }  # fmt: skip
        celery_env = {**child_env, "TIDINGS_LOG_LEVEL": celery_level}
        processes = {
            name: subprocess.Popen(  # noqa: S603
                cmd, cwd=settings.BASE_DIR, env=child_env if name == "web" else celery_env
            )
            for name, cmd in commands.items()
        }
        try:
            if self._wait_for_web(port, processes["web"]):
                self._banner(base, info)
            while all(process.poll() is None for process in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, process in processes.items() if process.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; stopping the others")
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(processes)

    def _wait_for_web(self, port: int, web: subprocess.Popen) -> bool:
        """The banner waits until the web server accepts connections."""
        deadline = time.monotonic() + WEB_START_SECONDS
        while time.monotonic() < deadline and web.poll() is None:
            if port_listening(port):
                return True
            time.sleep(0.2)
        return False

    def _banner(self, base: str, info: dict) -> None:
        key = info["api_key"]
        kept = "new key, kept in" if info["api_key_created"] else "same key as last run, from"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Tidings is running (Ctrl-C stops web, worker and beat).",
                    f"  database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
                    f"broker: {settings.CELERY_BROKER_URL.split('://', 1)[0]}",
                    f"  admin:    {base}/admin/  (login {info['admin_user']} / {info['admin_password']})",
                    f"  API docs: {base}/api/docs/  (ReDoc: {base}/api/redoc/)",
                    f"  API key:  {key}  ({kept} {demo_key_file()})",
                    "",
                    "  In another shell:",
                    f"    export KEY={key}",
                    "  send a message through the sandbox provider:",
                    f'    curl -s -X POST {base}/api/v1/send -H "Authorization: Api-Key $KEY" \\',
                    "      -H 'Content-Type: application/json' \\",
                    '      -d \'{"template": "welcome", "messages": [{"receiver": "ada@example.com", "variables": {"name": "Ada"}}]}\'',
                    "  then its state and trace:",
                    f'    curl -s {base}/api/v1/messages/<message_id> -H "Authorization: Api-Key $KEY"',
                    "",
                ]
            )
        )
        self.stdout.flush()

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
