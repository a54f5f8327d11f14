from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notify.demo import demo_setup


class Command(BaseCommand):
    help = (
        "Create the demo App, sandbox accounts, templates and admin user; print the demo API "
        "key (re-used from --key-file while it is valid, else a new one written there)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--key-file", help="Keep the API key in this file across runs.")

    def handle(self, *args: Any, key_file: str | None = None, **options: Any) -> None:
        info = demo_setup(key_file=Path(key_file) if key_file else None)
        self.stdout.write(f"demo API key: {info['api_key']}")
