"""Print the email receipt webhook URLs to paste at each ESP (every provider whose folder
declares an ANYMAIL_WEBHOOK), with the basic-auth secret in them (TIDINGS_ANYMAIL_WEBHOOK_SECRET, derived from the secret key
under `make run`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from tracking.receipts.webhooks import anymail_webhooks


def receipt_webhook_url(esp: str) -> str:
    user, _, password = settings.TIDINGS_ANYMAIL_WEBHOOK_SECRET.partition(":")
    base = urlsplit(settings.TIDINGS_PUBLIC_URL.rstrip("/"))
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{base.netloc}"
    return urlunsplit((base.scheme, netloc, f"{base.path}/r/anymail/{esp}/tracking/", "", ""))


class Command(BaseCommand):
    help = "Print the email receipt webhook URLs (with their basic-auth secret)."

    def handle(self, *args: Any, **options: Any) -> None:
        for _, hook in anymail_webhooks():
            self.stdout.write(f"{hook.where}:\n  {receipt_webhook_url(hook.esp)}")
