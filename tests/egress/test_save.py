"""Save time: every destination an App can set is checked by the egress policy, 400 naming
the field; with the operator's allowlist the same saves pass."""

from __future__ import annotations

import pytest

from channels_app.models import ChannelAccount
from tests.egress.conftest import LOOPBACK, PRIVATE
from tracking.models import CallbackEndpoint

HOSTS = [*LOOPBACK, *PRIVATE]


def _account(api, provider: str, channel: str, config: dict, **extra):
    return api.post(
        "/api/v1/channel-accounts/",
        {"name": "a", "provider": provider, "channel": channel, "config": config, **extra},
        format="json",
    )


def _smtp_config(host: str) -> dict:
    return {"host": host.strip("[]"), "port": 25, "from_email": "a@example.com"}


def _fields(response) -> str:
    assert response.status_code == 400, response.content
    return str(response.json()["fields"])


@pytest.mark.parametrize("host", HOSTS)
def test_webhook_url_is_refused(api, no_allowlist, host):
    response = _account(api, "webhook", "webhook", {"url": f"http://{host}:8080/hook"})

    fields = response.json()["fields"]
    assert response.status_code == 400
    assert "egress refused" in str(fields["config.url"])
    assert not ChannelAccount.objects.exists()


@pytest.mark.parametrize("host", HOSTS)
def test_base_url_is_refused(api, no_allowlist, host):
    response = _account(
        api,
        "dingtalk_robot",
        "dingtalk",
        {"access_token": "t" * 20},
        base_url=f"http://{host}/",
    )

    assert response.status_code == 400
    # "2130706433" is already not a URL to Django's URL validator; the rest is the policy's.
    assert "egress refused" in str(response.json()["fields"]["base_url"]) or host == "2130706433"


def test_base_url_and_webhook_url_must_be_http(api):
    response = _account(
        api, "webhook", "webhook", {"url": "ftp://example.com/x"}, base_url="ftp://example.com/"
    )

    fields = response.json()["fields"]
    assert "base_url" in fields
    assert response.status_code == 400


@pytest.mark.parametrize("host", HOSTS)
def test_smtp_host_is_refused(api, no_allowlist, host):
    response = _account(api, "smtp", "email", _smtp_config(host))

    assert "egress refused" in str(response.json()["fields"]["config.host"])


@pytest.mark.parametrize("host", HOSTS)
def test_apprise_url_is_refused(api, no_allowlist, host):
    response = _account(
        api,
        "apprise",
        "other",
        {
            "urls": [
                "slack://T000AAAAA/B000BBBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
                f"ops=json://{host}:8080/",
            ]
        },
    )

    fields = response.json()["fields"]
    assert response.status_code == 400
    assert list(fields) == ["config.urls[1]"]  # the second URL, by index; never echoed
    # Apprise itself cannot parse a mapped IPv6 host; every other form is the policy's.
    assert "egress refused" in str(fields) or host == "[::ffff:127.0.0.1]"


def test_apprise_mailto_smtp_server_is_refused(api, no_allowlist):
    response = _account(
        api, "apprise", "other", {"urls": ["mailto://u:p@example.com?smtp=127.0.0.1"]}
    )

    assert "egress refused" in str(response.json()["fields"]["config.urls[0]"])


@pytest.mark.parametrize("field", ["webhook_url"])
def test_slack_webhook_url_is_refused(api, no_allowlist, field):
    response = _account(api, "slack", "slack", {field: "http://169.254.169.254/services/T/B/x"})

    assert "egress refused" in str(response.json()["fields"][f"config.{field}"])


@pytest.mark.parametrize("host", HOSTS)
def test_status_callback_url_is_refused(api, no_allowlist, host):
    response = api.put(
        "/api/v1/callback", {"url": f"http://{host}/cb", "secret": "s" * 32}, format="json"
    )

    assert response.status_code == 400
    assert "egress refused" in str(response.json()["fields"]["url"])
    assert not CallbackEndpoint.objects.exists()


def test_template_attachment_url_is_refused(api, tenant, no_allowlist):
    account = ChannelAccount.objects.create(
        app=tenant, name="smtp", channel="email", provider="smtp", config=_smtp_config("mx.example")
    )
    response = api.post(
        "/api/v1/templates/",
        {
            "name": "n",
            "code": "c",
            "channel": "email",
            "receiver_type": "email",
            "channel_account": account.pk,
            "content": {
                "subject": "s",
                "text": "t",
                "attachments": [{"url": "http://2130706433/report.pdf"}],
            },
        },
        format="json",
    )

    assert "egress refused" in str(response.json()["fields"]["content.attachments[0].url"])


def test_allow_private_attachments_is_not_an_account_setting_any_more(api):
    response = _account(
        api,
        "smtp",
        "email",
        {**_smtp_config("mx.example"), "allow_private_attachments": True},
    )

    assert response.status_code == 201, response.content
    assert "allow_private_attachments" not in ChannelAccount.objects.get().config


def test_the_operator_allowlist_lets_the_same_destinations_be_saved(api, settings):
    settings.TIDINGS_EGRESS_ALLOWLIST = ["127.0.0.0/8", "::1", "10.0.0.0/8", "localhost"]

    assert (
        _account(api, "webhook", "webhook", {"url": "http://127.0.0.1:8080/h"}).status_code == 201
    )
    assert _account(api, "smtp", "email", _smtp_config("localhost"), name="b").status_code == 201
    assert (
        _account(api, "apprise", "other", {"urls": ["json://10.1.2.3/"]}, name="c").status_code
        == 201
    )
    callback = api.put(
        "/api/v1/callback", {"url": "http://[::1]:9000/cb", "secret": "s" * 32}, format="json"
    )
    assert callback.status_code == 200, callback.content


def test_admin_form_applies_the_same_policy(admin_client, tenant, no_allowlist):
    data = {
        "app": tenant.pk, "name": "tw", "channel": "sms", "provider": "twilio_sms",
        "enabled": "on", "weight": 100, "type_weights": "{}", "base_url": "http://169.254.169.254",
        "cfg_account_sid": "AC" + "0" * 32, "cfg_auth_token": "t", "cfg_from_number": "+15005550006",
    }  # fmt: skip
    url = "/admin/channels_app/channelaccount/add/?provider=twilio_sms"

    response = admin_client.post(url, data)

    assert response.status_code == 200  # the form again, with the error
    assert "169.254.169.254 is a link-local address" in response.content.decode()
    assert not ChannelAccount.objects.exists()
    data["base_url"] = "https://api.twilio.com"
    assert admin_client.post(url, data).status_code == 302
