from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notify.models import App
from notify.services import InvalidScopes, api_key_issue


class Command(BaseCommand):
    help = (
        "Issue an API key for an App (by name or id) and print it; it is shown only once. "
        "Scopes: send (send, read own messages, traces and stats), manage (everything)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app", help="The App's name or id.")
        parser.add_argument(
            "--scopes", required=True, help="Comma-separated: send, manage (e.g. send,manage)."
        )
        parser.add_argument("--name", default="default", help="A label for the key.")

    def handle(self, *args: Any, app: str, scopes: str, name: str, **options: Any) -> None:
        found = App.objects.filter(name=app).first()
        if found is None and app.isascii() and app.isdigit() and len(app) < 19:
            found = App.objects.filter(pk=int(app)).first()
        if found is None:
            raise CommandError(f"no App named {app!r}")
        try:
            api_key, key = api_key_issue(found, name=name, scopes=scopes.split(","))
        except InvalidScopes as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"API key {api_key.prefix} for App {found.name!r}, scopes {','.join(api_key.scopes)}."
        )
        self.stdout.write(f"API key (shown once, store it now): {key}")
