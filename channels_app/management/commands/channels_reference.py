"""`python manage.py channels_reference`: regenerate the generated parts of docs/channels.md
(the channel table, one section per registered provider) in place; `--check` only says
whether they are current (exit status 1 when stale)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels_app.providers.reference import DOCS_FILE, channels_reference


class Command(BaseCommand):
    help = "Regenerate the provider sections of docs/channels.md from the provider folders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if the file is stale.")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        current = DOCS_FILE.read_text()
        fresh = channels_reference(current)
        if check:
            if fresh != current:
                raise CommandError("docs/channels.md is stale: run manage.py channels_reference")
            return
        DOCS_FILE.write_text(fresh)
        self.stdout.write(f"wrote {DOCS_FILE}")
