from django.core.management.base import BaseCommand

from notify.demo import demo_setup


class Command(BaseCommand):
    help = "Create the demo App, sandbox accounts, templates and admin user; print a fresh API key."

    def add_arguments(self, parser):
        parser.add_argument("--key-file", help="Also write the API key to this file.")

    def handle(self, *args, key_file=None, **options):
        info = demo_setup()
        if key_file:
            with open(key_file, "w") as handle:
                handle.write(info["api_key"])
        self.stdout.write(f"demo API key: {info['api_key']}")
