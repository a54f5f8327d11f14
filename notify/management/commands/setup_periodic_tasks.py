from typing import Any

from django.core.management.base import BaseCommand

from notify.periodic import periodic_tasks_install


class Command(BaseCommand):
    help = "Install Tidings' periodic tasks into django-celery-beat (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name in periodic_tasks_install():
            self.stdout.write(f"periodic task installed: {name}")
