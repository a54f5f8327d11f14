"""Demo data for `make run`: an App, a sandbox account and a few templates."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from channels_app.models import ChannelAccount
from notify.models import ApiKey, App
from notify.services import api_key_create, api_key_revoke
from templates_app.models import MessageTemplate, MessageType, ReceiverType

DEMO_APP = "demo"
DEMO_TEMPLATES = [
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


@transaction.atomic
def demo_setup(admin_password: str = "admin") -> dict[str, str]:  # noqa: S107 - local demo login
    """Idempotent; every call issues a fresh demo API key (the old one is revoked)."""
    user_model = get_user_model()
    if not user_model.objects.filter(username="admin").exists():
        user_model.objects.create_superuser("admin", "admin@example.com", admin_password)
    app, _ = App.objects.get_or_create(name=DEMO_APP)
    for old in ApiKey.objects.filter(app=app, name="demo", revoked_at__isnull=True):
        api_key_revoke(old)
    key = api_key_create(app, name="demo")
    for channel in ("email", "sms", "webhook"):
        ChannelAccount.objects.get_or_create(
            app=app,
            name=f"sandbox-{channel}",
            defaults={"channel": channel, "provider": "sandbox", "config": {}},
        )
    for spec in DEMO_TEMPLATES:
        MessageTemplate.objects.get_or_create(app=app, code=spec["code"], defaults=spec)
    return {"api_key": key, "admin_user": "admin", "admin_password": admin_password}
