"""The operator command: `python manage.py tidings <sub>` (or the `tidings` console script).

send      send through the HTTP API (same checks as any client), optionally wait for SENT
trace     a message's trace as a timeline
replay    POST /api/v1/messages/replay with a filter (dry run by default)
lanes     backlog and consumers of every queue
doctor    database, broker, Redis, beat, workers, clock, public URL, egress: a verdict each
"""

from __future__ import annotations

import json
import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from notify.doctor import FAIL, consumers_by_queue, doctor_checks, doctor_report
from notify.lanes import all_lanes
from notify.queueing import lane_backlog
from tracking.models import Message

try:
    from tidings_client import Tidings, TidingsError
except ImportError:  # an image with the server's dependencies only: trace/lanes/doctor work
    Tidings = None

    class TidingsError(Exception):  # type: ignore[no-redef]  # the client's, when installed
        fields: dict = {}


def _default_url() -> str:
    return os.environ.get("TIDINGS_URL") or (
        f"http://127.0.0.1:{os.environ.get('TIDINGS_PORT') or 8000}"
    )


def _default_key() -> str | None:
    """--key, else $TIDINGS_API_KEY, else $KEY (README), else make run's demo key."""
    key = os.environ.get("TIDINGS_API_KEY") or os.environ.get("KEY")
    demo = Path(settings.VAR_DIR) / "demo-api-key"
    if not key and demo.exists():
        key = demo.read_text().strip()
    return key or None


def _variables(pairs: list[str], raw: str | None) -> dict:
    variables = json.loads(raw) if raw else {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CommandError(f"--var {pair!r}: use name=value")
        variables[name] = value
    return variables


class Command(BaseCommand):
    help = "Operate Tidings: send, trace, replay, lanes, doctor."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.prog = parser.prog.strip()  # the console script passes no program name
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        subs = parser.add_subparsers(dest="sub", required=True, metavar="{send,trace,replay,lanes,doctor}")  # fmt: skip

        def http(sub: ArgumentParser) -> None:
            sub.add_argument("--url", default=None, help="API base URL (default: $TIDINGS_URL or http://127.0.0.1:$TIDINGS_PORT)")  # fmt: skip
            sub.add_argument("--key", default=None, help="API key (default: $TIDINGS_API_KEY, $KEY or var/demo-api-key)")  # fmt: skip

        send = subs.add_parser("send", help="send one template to receivers")
        send.add_argument("template")
        send.add_argument("receivers", nargs="+")
        send.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
        send.add_argument("--vars", help="variables as a JSON object")
        send.add_argument("--priority", choices=list(settings.TIDINGS_PRIORITIES))
        send.add_argument("--wait", metavar="STATE", help="wait until each message is in STATE (e.g. SENT)")  # fmt: skip
        send.add_argument("--timeout", type=float, default=60.0)
        http(send)

        trace = subs.add_parser("trace", help="a message's trace as a timeline")
        trace.add_argument("message_id")

        replay = subs.add_parser("replay", help="send matching messages again (dry run unless --apply)")  # fmt: skip
        for name in ("template", "channel", "account", "state", "since", "until", "error_code"):
            replay.add_argument(f"--{name.replace('_', '-')}", dest=name)
        replay.add_argument("--apply", action="store_true", help="really replay (default: dry run)")
        http(replay)

        subs.add_parser("lanes", help="backlog and consumers per queue")
        subs.add_parser("doctor", help="check every part of a running Tidings")

    def handle(self, *args: Any, sub: str, **options: Any) -> None:
        getattr(self, f"_{sub}")(**options)

    def _client(self, url: str | None, key: str | None) -> Any:  # a tidings_client.Tidings
        if Tidings is None:
            raise CommandError(
                "send and replay use the Python client: pip install ./clients/python"
            )
        key = key or _default_key()
        if not key:
            raise CommandError("no API key: give --key or set TIDINGS_API_KEY")
        return Tidings(url or _default_url(), key)

    # --- send / replay over HTTP -------------------------------------------------------
    def _send(
        self,
        *,
        template: str,
        receivers: list[str],
        var: list[str],
        vars: str | None,
        priority: str | None,
        wait: str | None,
        timeout: float,
        url: str | None,
        key: str | None,
        **_: Any,
    ) -> None:
        client = self._client(url, key)
        try:
            result = client.send(template, receivers, _variables(var, vars), priority=priority)
        except TidingsError as exc:
            raise CommandError(
                f"{exc}{' ' + json.dumps(exc.fields) if exc.fields else ''}"
            ) from exc
        self.stdout.write(f"request {result.request_id}: {result.accepted} accepted")
        for item in result.rejected:
            self.stdout.write(f"  rejected {json.dumps(item, ensure_ascii=False)}")
        for item in result.messages:
            line = f"  {item['message_id']}  {item['receiver']}"
            if wait:
                try:
                    state = client.wait_for(item["message_id"], wait, timeout)["state"]
                except TidingsError as exc:
                    state = f"{exc}"
                line += f"  {state}"
            self.stdout.write(line)

    def _replay(self, *, url: str | None, key: str | None, apply: bool, **options: Any) -> None:
        filters = {k: options.get(k) for k in ("template", "channel", "account", "state", "since", "until", "error_code")}  # fmt: skip
        client = self._client(url, key)
        try:
            result = client.replay(**filters, dry_run=not apply)
        except TidingsError as exc:
            raise CommandError(
                f"{exc}{' ' + json.dumps(exc.fields) if exc.fields else ''}"
            ) from exc
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))

    # --- trace / lanes / doctor on this server ------------------------------------------
    def _trace(self, *, message_id: str, **_: Any) -> None:
        message = (
            Message.objects.select_related("template", "app").filter(message_id=message_id).first()
            if _is_uuid(message_id)
            else None
        )
        if message is None:
            raise CommandError(f"no message {message_id}")
        template = message.template.code if message.template_id else "-"
        locale = f", locale {message.locale}" if message.locale else ""
        self.stdout.write(
            f"message {message.message_id}  App {message.app.name}  template {template} "
            f"({message.channel}, {message.priority}{locale})  to {message.receiver}  "
            f"now {message.state}"
        )
        events = message.trace_events()
        start = events[0].at if events else None
        for event in events:
            offset = (event.at - (start or event.at)).total_seconds()
            detail = f"  {event.detail}" if event.detail else ""
            at = f"{event.at:%H:%M:%S.%f}"[:-3]
            self.stdout.write(f"  {at}  {f'+{offset:.3f}s':>9}  {event.state:<18}{detail}".rstrip())

    def _lanes(self, **_: Any) -> None:
        queues = [*all_lanes(), settings.TIDINGS_HOUSEKEEPING_QUEUE, settings.TIDINGS_CAMPAIGN_QUEUE]  # fmt: skip
        try:
            consumers, how = consumers_by_queue(queues)
        except Exception as exc:  # noqa: BLE001 - shown, the backlog still is
            consumers, how = {}, f"unknown ({exc})"
        width = max(len(q) for q in queues)
        self.stdout.write(f"{'queue':<{width}}  {'waiting':>8}  workers ({how})")
        for queue in queues:
            backlog = lane_backlog(queue)
            waiting = "?" if backlog is None else str(backlog)
            workers = ", ".join(consumers.get(queue, [])) or "-"
            self.stdout.write(f"{queue:<{width}}  {waiting:>8}  {workers}")

    def _doctor(self, **_: Any) -> None:
        checks = doctor_checks()
        self.stdout.write(doctor_report(checks))
        if any(check.verdict == FAIL for check in checks):
            raise SystemExit(1)


def _is_uuid(value: str) -> bool:
    try:
        Message._meta.get_field("message_id").to_python(value)
    except Exception:  # noqa: BLE001 - any malformed id
        return False
    return True
