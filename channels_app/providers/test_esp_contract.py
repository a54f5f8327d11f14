"""The contract every anymail ESP folder keeps, run against that ESP's local fake (its
folder's fake.py): a send reaches the ESP's API with our ids and returns the ESP's message
id; bad credentials are permanent, 5xx transient; its tracking webhook, posted to the
receipt URL the way the ESP posts it, moves the message to DELIVERED or UNDELIVERED, and a
forged signature (for ESPs that sign) or a missing basic auth changes nothing. ESPs whose
tracking webhook anymail does not normalize (no `ANYMAIL_WEBHOOK` in their receipts.py, e.g. Scaleway) keep
the send half only: their trace ends at SENT."""

from __future__ import annotations

import base64
import importlib
import inspect

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.anymail_common import AnymailAdapter
from channels_app.providers.base import OutboundMessage
from channels_app.providers.esp_fakes import EspFake
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.registry import PROVIDERS, get_adapter_class, provider_module
from notify.models import SendRequest
from notify.services import app_create
from templates_app.models import MessageTemplate
from tracking.models import Message

BASIC = "user:pass"


def _esp_fakes() -> list[tuple[str, type[EspFake]]]:
    found = []
    for provider in PROVIDERS:
        if not issubclass(get_adapter_class(provider), AnymailAdapter):
            continue
        try:
            module = importlib.import_module(f"channels_app.providers.{provider}.fake")
        except ModuleNotFoundError:
            continue  # SES, SendGrid, Mailgun: their fakes and tests predate this contract
        found += [
            (provider, cls)
            for cls in vars(module).values()
            if inspect.isclass(cls) and issubclass(cls, EspFake) and cls is not EspFake
        ]
    return found


ESPS = _esp_fakes()


@pytest.fixture
def tenant(db):
    return app_create("acme")[0]


@pytest.fixture(params=ESPS, ids=[provider for provider, _ in ESPS])
def esp(request):
    provider, fake_class = request.param
    fake = fake_class()
    with FakeHTTPServer(fake) as server:
        adapter_class = get_adapter_class(provider)
        config = adapter_class.validate_config(fake.config)
        adapter = adapter_class(config, base_url=server.url + fake.api_root)
        yield provider, fake, adapter


def _outbound(n: int = 1, receiver: str = "ann@example.com") -> OutboundMessage:
    return OutboundMessage(
        id=n,
        message_id=f"msg-{n}",
        receiver=receiver,
        content={"subject": "Hello", "text": "plain body", "html": "<p>html body</p>"},
        template_code="welcome",
    )


def test_a_send_reaches_the_esp_with_our_ids(esp):
    _, fake, adapter = esp

    [result] = adapter.send([_outbound()])

    assert result.ok, result.error
    [email] = fake.accepted
    assert (email.to, email.subject) == ("ann@example.com", "Hello")
    assert "plain body" in email.text and "html body" in email.html
    assert email.headers.get("X-Tidings-Message-Id") == "msg-1"
    assert result.provider_message_id == email.provider_id != ""


def test_bad_credentials_are_permanent_and_5xx_transient(esp):
    provider, fake, adapter = esp
    wrong = {**fake.config}
    secret = get_adapter_class(provider).secret_fields[0]
    wrong[secret] = fake.config[secret][:-4] + "0000"
    stranger = type(adapter)(type(adapter).validate_config(wrong), base_url=adapter.base_url)

    [refused] = stranger.send([_outbound()])
    fake.fail_with = Reply(status=503, body={"message": "maintenance"})
    [unavailable] = adapter.send([_outbound(2)])

    assert refused.error is not None and refused.error.permanent
    assert unavailable.error is not None and not unavailable.error.permanent
    assert fake.accepted == []


def _sent_message(tenant, provider: str, provider_id: str, receiver: str) -> Message:
    account, _ = ChannelAccount.objects.get_or_create(
        app=tenant, name=provider, defaults={"channel": "email", "provider": provider}
    )
    template = MessageTemplate.objects.create(
        app=tenant, code=f"t-{provider}-{receiver}", name="t", channel="email",
        receiver_type="any", content={"subject": "s", "text": "x"},
    )  # fmt: skip
    request = SendRequest.objects.create(app=tenant, template=template, priority="normal")
    now = timezone.now()
    return Message.objects.create(
        app=tenant, request=request, template=template, channel="email", account=account,
        receiver=receiver, content={}, priority="normal", state="SENT",
        provider_message_id=provider_id, created_at=now, updated_at=now, sent_at=now,
    )  # fmt: skip


def _post(fake, provider, provider_id, receiver, event, auth=BASIC, forge=False):
    esp_name = provider_module(provider, "receipts").ANYMAIL_WEBHOOK.esp
    path = f"/r/anymail/{esp_name}/tracking/"
    call = fake.webhook(provider_id, receiver, event, f"http://{auth}@testserver{path}")
    if forge:  # the body changed after the ESP signed it
        form = call.content_type == "application/x-www-form-urlencoded"
        call.body += b"&forged=1" if form else b" "
    headers = dict(call.headers)
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return Client().generic("POST", path, call.body, call.content_type, headers=headers)


def _webhook(provider: str):
    return getattr(provider_module(provider, "receipts"), "ANYMAIL_WEBHOOK", None)


def _skip_without_webhook(provider: str) -> None:
    if _webhook(provider) is None:
        pytest.skip(f"{provider}: anymail has no tracking webhook for it (send only)")


def test_the_tracking_webhook_moves_the_message(esp, tenant, settings):
    provider, fake, adapter = esp
    _skip_without_webhook(provider)
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": BASIC, **fake.anymail_settings}
    [ok, bad] = [adapter.send([_outbound(n, f"u{n}@example.com")])[0] for n in (1, 2)]
    delivered = _sent_message(tenant, provider, ok.provider_message_id, "u1@example.com")
    bounced = _sent_message(tenant, provider, bad.provider_message_id, "u2@example.com")

    anonymous = _post(fake, provider, ok.provider_message_id, "u1@example.com", "delivered", "")
    first = _post(fake, provider, ok.provider_message_id, "u1@example.com", "delivered")
    second = _post(fake, provider, bad.provider_message_id, "u2@example.com", "bounced")

    assert anonymous.status_code == 401
    assert (first.status_code, second.status_code) == (200, 200), (first.content, second.content)
    delivered.refresh_from_db()
    bounced.refresh_from_db()
    assert (delivered.state, bounced.state) == (fake.delivered_state, "UNDELIVERED")
    [event] = bounced.events.filter(state="UNDELIVERED")
    assert event.detail.startswith(get_adapter_class(provider).label)


def test_a_forged_signature_is_refused(esp, tenant, settings):
    provider, fake, adapter = esp
    _skip_without_webhook(provider)
    if not fake.anymail_settings:
        pytest.skip(f"{provider} does not sign its webhooks (basic auth only)")
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": BASIC, **fake.anymail_settings}
    [ok] = adapter.send([_outbound()])
    message = _sent_message(tenant, provider, ok.provider_message_id, "ann@example.com")
    pid = ok.provider_message_id

    forged = _post(fake, provider, pid, "ann@example.com", "delivered", forge=True)
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if k not in fake.anymail_settings}
    unconfigured = _post(fake, provider, pid, "ann@example.com", "delivered")

    assert forged.status_code == 403, forged.content
    assert forged.json()["error"] == "invalid_signature"
    # Without its key a signing ESP's receipts are refused, never taken unchecked.
    assert unconfigured.status_code == 403, unconfigured.content
    message.refresh_from_db()
    assert message.state == "SENT"


@pytest.mark.parametrize(("provider", "fake_class"), ESPS, ids=[p for p, _ in ESPS])
def test_setup_checks_answer_without_a_500(provider, fake_class, settings):
    """ESPs probe the URL (HEAD / GET) when the webhook is configured; views that need the
    ESP's key (Postal, MailerSend, Unisender Go) must refuse cleanly while it is unset."""
    _skip_without_webhook(provider)
    path = f"/r/anymail/{_webhook(provider).esp}/tracking/"
    keys = fake_class.anymail_settings
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if k not in keys}
    unset = [Client().generic(method, path).status_code for method in ("HEAD", "GET")]
    settings.ANYMAIL = {**settings.ANYMAIL, **keys}
    configured = Client().head(path).status_code

    assert all(status < 500 for status in unset), unset
    assert configured == 200
