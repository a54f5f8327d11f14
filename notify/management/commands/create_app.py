from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notify.models import App
from notify.services import app_create


class Command(BaseCommand):
    help = "Create an App (a calling system) and print its API key, which is shown only once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        if App.objects.filter(name=name).exists():
            raise CommandError(f"an App named {name!r} already exists")
        app, key = app_create(name)
        self.stdout.write(f"App {app.name!r} created (id {app.pk}).")
        self.stdout.write(f"API key (shown once, store it now): {key}")
