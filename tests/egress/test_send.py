"""Send time: a destination that got past save (stored before the policy, or a name that
resolves inward later) fails the message with `egress_denied` naming the refused address,
and the local catcher server receives nothing; with the operator's allowlist it is sent."""

from __future__ import annotations

import pytest

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import FakeHTTPServer, Reply
from channels_app.providers.smtp.fake import FakeSMTPServer
from notify.delivery import batch_deliver
from templates_app.models import MessageTemplate
from tests.egress.conftest import LOOPBACK
from tracking.callbacks import callbacks_drain
from tracking.models import CallbackDelivery, CallbackEndpoint, CallbackOutbox, Message


@pytest.fixture
def catcher():
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def send_via(api, tenant, broker):
    """Sends one message through `account` (created straight in the database, as an account
    saved before the policy would be) and delivers it in-process."""

    def _send(account: ChannelAccount, channel: str, content: dict, receiver: str) -> Message:
        MessageTemplate.objects.create(
            app=tenant,
            name="t",
            code="t",
            channel=channel,
            receiver_type="any",
            content=content,
            channel_account=account,
        )
        response = api.post(
            "/api/v1/send", {"template": "t", "receivers": [receiver]}, format="json"
        )
        assert response.status_code == 202, response.content
        message = Message.objects.get(message_id=response.json()["messages"][0]["message_id"])
        batch_deliver([message.pk])
        message.refresh_from_db()
        return message

    return _send


def _webhook(tenant, url: str = "", base_url: str = "") -> ChannelAccount:
    return ChannelAccount.objects.create(
        app=tenant,
        name="hook",
        channel="webhook",
        provider="webhook",
        base_url=base_url,
        config={"url": url or "https://hooks.example.com/x", "secret": "s"},
    )


def _port(server: FakeHTTPServer) -> str:
    return server.url.rsplit(":", 1)[1]


def _assert_refused(message: Message) -> None:
    assert message.state == "FAILED"
    assert message.last_error.startswith("[egress_denied] ")
    assert "refused" in message.last_error


@pytest.mark.parametrize("host", LOOPBACK)
def test_webhook_to_loopback_fails_and_reaches_nothing(
    tenant, send_via, catcher, no_allowlist, host
):
    account = _webhook(tenant, url=f"http://{host}:{_port(catcher)}/hook")

    message = send_via(account, "webhook", {"text": "hi"}, "u1")

    _assert_refused(message)
    assert host.strip("[]") in message.last_error  # the refused address is named
    assert catcher.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0", "[::ffff:127.0.0.1]"])
def test_base_url_to_loopback_fails_and_reaches_nothing(
    tenant, send_via, catcher, no_allowlist, host
):
    account = _webhook(tenant, base_url=f"http://{host}:{_port(catcher)}")

    _assert_refused(send_via(account, "webhook", {"text": "hi"}, "u1"))
    assert catcher.requests == []


def test_webhook_is_sent_when_the_operator_allowlists_loopback(tenant, send_via, catcher, settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.1"]
    account = _webhook(tenant, url=f"http://2130706433:{_port(catcher)}/hook")

    message = send_via(account, "webhook", {"text": "hi"}, "u1")

    assert message.state == "SENT"
    assert len(catcher.requests) == 1


def test_a_redirect_to_an_internal_address_is_not_followed(tenant, send_via, catcher, settings):
    with FakeHTTPServer(
        lambda r: Reply(status=302, body=b"", headers={"Location": f"{catcher.url}/inside"})
    ) as outside:
        settings.TIDINGS_EGRESS_ALLOWLIST = [outside.url.removeprefix("http://")]
        account = _webhook(tenant, url=f"{outside.url}/hook")

        message = send_via(account, "webhook", {"text": "hi"}, "u1")

    assert message.state == "FAILED"
    assert message.last_error.startswith("[redirect] ")
    assert len(outside.requests) == 1
    assert catcher.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "localhost", "0.0.0.0"])
def test_apprise_url_to_loopback_fails_and_reaches_nothing(
    tenant, send_via, catcher, no_allowlist, host
):
    account = ChannelAccount.objects.create(
        app=tenant,
        name="apprise",
        channel="other",
        provider="apprise",
        config={"urls": [f"json://{host}:{_port(catcher)}/"]},
    )

    _assert_refused(send_via(account, "other", {"body": "hi"}, "*"))
    assert catcher.requests == []


def test_apprise_url_is_sent_when_allowlisted_and_never_follows_redirects(
    tenant, send_via, catcher, settings
):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.1"]
    account = ChannelAccount.objects.create(
        app=tenant,
        name="apprise",
        channel="other",
        provider="apprise",
        config={"urls": [f"json://2130706433:{_port(catcher)}/?redirect=yes"]},
    )

    message = send_via(account, "other", {"body": "hi"}, "*")

    assert message.state == "SENT"
    assert len(catcher.requests) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0.0.0.0"])
def test_smtp_host_on_loopback_fails_and_reaches_nothing(tenant, send_via, no_allowlist, host):
    with FakeSMTPServer() as smtp:
        account = ChannelAccount.objects.create(
            app=tenant,
            name="smtp",
            channel="email",
            provider="smtp",
            config={"host": host, "port": smtp.port, "from_email": "a@example.com"},
        )

        message = send_via(account, "email", {"subject": "s", "text": "t"}, "ada@example.com")

    _assert_refused(message)
    assert "SMTP host" in message.last_error
    assert smtp.messages == []


def test_smtp_host_is_used_when_allowlisted(tenant, send_via, settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["localhost"]
    with FakeSMTPServer() as smtp:
        account = ChannelAccount.objects.create(
            app=tenant,
            name="smtp",
            channel="email",
            provider="smtp",
            config={"host": "localhost", "port": smtp.port, "from_email": "a@example.com"},
        )

        message = send_via(account, "email", {"subject": "s", "text": "t"}, "ada@example.com")

    assert message.state == "SENT"
    assert len(smtp.messages) == 1


@pytest.mark.parametrize("host", LOOPBACK)
def test_status_callback_to_loopback_is_refused_and_not_retried(
    api, sandbox_account, email_template, catcher, no_allowlist, host
):
    CallbackEndpoint.objects.create(
        app=sandbox_account.app, url=f"http://{host}:{_port(catcher)}/cb", secret="s" * 32
    )
    response = api.post(
        "/api/v1/send",
        {
            "template": "welcome",
            "receivers": ["a@example.com"],
            "variables": {"name": "A", "code": "1"},
        },
        format="json",
    )
    batch_deliver(list(Message.objects.values_list("pk", flat=True)))
    assert response.status_code == 202

    totals = callbacks_drain()

    assert totals["delivered"] == 0
    assert catcher.requests == []
    delivery = CallbackDelivery.objects.get()
    assert delivery.error.startswith("[egress_denied] ")
    assert all(row.dead for row in CallbackOutbox.objects.all())


def test_provider_answers_in_last_error_are_short_and_printable(tenant, send_via, catcher):
    internal = "HTTP/1.1 internal admin\r\nSet-Cookie: session=abc\r\n\r\n" + "<secret>" * 500
    catcher.responder = lambda r: Reply(status=503, body=internal.encode())
    account = _webhook(tenant, url=f"{catcher.url}/hook")

    message = send_via(account, "webhook", {"text": "hi"}, "u1")
    account.refresh_from_db()

    for text in (message.last_error, account.last_error):
        assert text.startswith("[503] provider error HTTP 503: HTTP/1.1 internal admin Set-Cookie")
        assert len(text) < 300
        assert "\r" not in text and "\n" not in text
