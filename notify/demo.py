"""Demo data for `make run`: an App, a sandbox account and a few templates."""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from channels_app.models import ChannelAccount
from notify.authentication import hash_key
from notify.models import ApiKey, App
from notify.services import api_key_create
from templates_app.models import MessageTemplate, MessageType, ReceiverType

DEMO_APP = "demo"
DEMO_TEMPLATES: list[dict[str, Any]] = [
    {
        "code": "welcome",
        "name": "Welcome email",
        "channel": "email",
        "receiver_type": ReceiverType.EMAIL,
        "message_type": MessageType.NOTICE,
        "content": {
            "subject": "Welcome, {$name}!",
            "text": "Hello {$name}, your account is ready.",
            "html": "<p>Hello <b>{$name}</b>, your account is ready.</p>",
        },
    },
    {
        "code": "login-code",
        "name": "Login verification code",
        "channel": "sms",
        "receiver_type": ReceiverType.PHONE,
        "message_type": MessageType.VERIFICATION,
        "default_priority": "high",
        "content": {"text": "Your code is {$code}. It expires in 5 minutes."},
    },
    {
        "code": "order-shipped",
        "name": "Order shipped webhook",
        "channel": "webhook",
        "receiver_type": ReceiverType.USER_ID,
        "message_type": MessageType.NOTICE,
        "content": {
            "event": "order.shipped",
            "order": "{$order}",
            "text": "Order {$order} is on its way",
        },
    },
    {
        # austin's README curl sends messageTemplateId 1 to 13719333899, no variables.
        "code": "austin-demo",
        "name": "austin demo SMS (austin messageTemplateId 1)",
        "channel": "sms",
        "receiver_type": ReceiverType.PHONE,
        "message_type": MessageType.NOTICE,
        "austin_id": 1,
        "content": {"text": "Hello from Tidings: austin's /send works unchanged."},
    },
]


def demo_key_valid(app: App, key: str) -> bool:
    """True if `key` is a live (not revoked) demo key of the demo App."""
    prefix = key.split(".", 1)[0]
    row = ApiKey.objects.filter(
        app=app, name="demo", prefix=prefix, revoked_at__isnull=True, app__is_active=True
    ).first()
    return row is not None and hmac.compare_digest(row.key_hash, hash_key(key))


def _demo_key(app: App, key_file: Path | None) -> tuple[str, bool]:
    """The demo key kept in `key_file` if it still works, else a new one written there.
    Only the hash is in the database, so the file is what lets `make run` print the same
    key again after a restart (scripts holding it keep working)."""
    if key_file is not None and key_file.exists():
        kept = key_file.read_text().strip()
        if kept and demo_key_valid(app, kept):
            return kept, False
    key = api_key_create(app, name="demo")
    if key_file is not None:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: it is a credential, even if a local one.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
    return key, True


@transaction.atomic
def demo_setup(
    admin_password: str = "admin",  # noqa: S107 - local demo login
    key_file: Path | None = None,
) -> dict:
    """Idempotent. The API key is re-used from `key_file` while it is valid (not revoked);
    without a file (or with a missing/revoked key) a new one is issued (and written there)."""
    user_model = get_user_model()
    if not user_model.objects.filter(username="admin").exists():
        user_model.objects.create_superuser("admin", "admin@example.com", admin_password)
    app, _ = App.objects.get_or_create(name=DEMO_APP)
    key, created = _demo_key(app, key_file)
    for channel in ("email", "sms", "webhook"):
        ChannelAccount.objects.get_or_create(
            app=app,
            name=f"sandbox-{channel}",
            defaults={"channel": channel, "provider": "sandbox", "config": {}},
        )
    for spec in DEMO_TEMPLATES:
        MessageTemplate.objects.get_or_create(app=app, code=spec["code"], defaults=spec)
    return {
        "api_key": key,
        "api_key_created": created,
        "admin_user": "admin",
        "admin_password": admin_password,
    }
