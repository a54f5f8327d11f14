"""`make run`: migrate, load demo data, then run web + worker + beat until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from notify.demo import demo_setup


class Command(BaseCommand):
    help = "Run Tidings locally: web, one worker for every lane, and beat."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("TIDINGS_PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, port: int, concurrency: int, **options):
        call_command("migrate", verbosity=0)
        call_command("setup_periodic_tasks", verbosity=0)
        info = demo_setup()
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "config"]
        # Without a Redis server, rule state lives in one process: run one threaded worker.
        pool = [] if settings.REDIS_URL else ["--pool", "threads"]
        commands = {
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [*celery, "worker", "--lanes", "all", "-c", str(concurrency), *pool, "-l", "info",
                       "--without-gossip", "--without-mingle", "--without-heartbeat"],
            "beat": [*celery, "beat", "-l", "info", "--schedule", str(settings.VAR_DIR / "beat-schedule")],
        }  # fmt: skip
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Tidings is running (Ctrl-C stops web, worker and beat).",
                    f"  database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
                    f"broker: {settings.CELERY_BROKER_URL.split('://', 1)[0]}",
                    f"  admin:    {base}/admin/  (login {info['admin_user']} / {info['admin_password']})",
                    f"  API docs: {base}/api/docs/",
                    f"  API key:  {info['api_key']}",
                    "  send a message through the sandbox provider:",
                    f"    curl -s -X POST {base}/api/v1/send -H 'Authorization: Api-Key {info['api_key']}' \\",
                    "      -H 'Content-Type: application/json' \\",
                    '      -d \'{"template": "welcome", "messages": [{"receiver": "ada@example.com", "variables": {"name": "Ada"}}]}\'',
                    f"    curl -s {base}/api/v1/messages/<message_id> -H 'Authorization: Api-Key {info['api_key']}'",
                    "",
                ]
            )
        )
        try:
            while all(process.poll() is None for process in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, process in processes.items() if process.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; stopping the others")
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes.values():
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
