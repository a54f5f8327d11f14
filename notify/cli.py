"""`tidings <sub>`: the console script behind `python manage.py tidings <sub>`."""

from __future__ import annotations

import os
import sys

from django.core.management import execute_from_command_line


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # No program name: usage reads "tidings doctor", not "tidings tidings doctor".
    execute_from_command_line(["", "tidings", *sys.argv[1:]])
