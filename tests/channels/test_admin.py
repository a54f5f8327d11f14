from __future__ import annotations

import json

import pytest

from channels_app.breaker import breaker_record_failure
from channels_app.models import ChannelAccount, SandboxDelivery
from notify.delivery import batch_deliver
from tracking.models import Message

URL = "/admin/channels_app/channelaccount/"


@pytest.fixture
def smtp_account(tenant):
    return ChannelAccount.objects.create(
        app=tenant,
        name="mail",
        channel="email",
        provider="smtp",
        config={
            "host": "smtp.acme.test",
            "port": 587,
            "from_email": "a@acme.test",
            "password": "pa55-secret",
        },
    )


def test_add_form_has_the_providers_fields(admin_client):
    page = admin_client.get(f"{URL}add/?provider=smtp").content.decode()

    assert 'name="cfg_host"' in page and 'name="cfg_use_tls"' in page
    assert 'type="password" name="cfg_password"' in page
    assert 'name="config"' not in page
    assert "?provider=twilio_sms" in admin_client.get(f"{URL}add/").content.decode()


def test_add_through_the_provider_form_validates_config(admin_client, tenant):
    data = {
        "app": tenant.pk, "name": "tw", "channel": "sms", "provider": "twilio_sms",
        "enabled": "on", "weight": 100, "type_weights": "{}",
        "cfg_account_sid": "nope", "cfg_auth_token": "t", "cfg_from_number": "+15005550006",
    }  # fmt: skip

    response = admin_client.post(f"{URL}add/?provider=twilio_sms", data)

    assert response.status_code == 200  # the form again, with the error
    assert "account_sid" in response.content.decode()
    assert not ChannelAccount.objects.filter(name="tw").exists()

    data["cfg_account_sid"] = "AC" + "0" * 32
    response = admin_client.post(f"{URL}add/?provider=twilio_sms", data)
    assert response.status_code == 302
    account = ChannelAccount.objects.get(name="tw")
    assert account.config["account_sid"] == "AC" + "0" * 32 and account.config["auth_token"] == "t"


def test_change_form_masks_secrets_and_keeps_them_when_left_empty(
    admin_client, smtp_account, tenant
):
    page = admin_client.get(f"{URL}{smtp_account.pk}/change/").content.decode()
    assert "pa55-secret" not in page
    assert 'value="smtp.acme.test"' in page

    response = admin_client.post(
        f"{URL}{smtp_account.pk}/change/",
        {
            "app": tenant.pk,
            "name": "mail",
            "channel": "email",
            "enabled": "on",
            "weight": 7,
            "type_weights": json.dumps({"marketing": 0}),
            "cfg_host": "smtp2.acme.test",
            "cfg_port": 2525,
            "cfg_from_email": "a@acme.test",
            "cfg_password": "",
        },  # fmt: skip
    )

    assert response.status_code == 302
    smtp_account.refresh_from_db()
    assert smtp_account.config["password"] == "pa55-secret"
    assert smtp_account.config["host"] == "smtp2.acme.test" and smtp_account.config["port"] == 2525
    assert (smtp_account.weight, smtp_account.type_weights) == (7, {"marketing": 0})


def test_changelist_shows_breaker_and_health(admin_client, smtp_account, settings):
    settings.TIDINGS_BREAKER_FAILURES = 1
    breaker_record_failure(smtp_account)
    ChannelAccount.objects.filter(pk=smtp_account.pk).update(last_error="[503] provider down")

    page = admin_client.get(URL).content.decode()

    assert "open (" in page and "[503] provider down" in page


def test_send_test_action_sends_through_the_pipeline(admin_client, tenant, broker):
    account = ChannelAccount.objects.create(
        app=tenant, name="sandbox", channel="email", provider="sandbox"
    )
    form = admin_client.post(URL, {"action": "send_test", "_selected_action": [account.pk]})
    assert "Send a test message via sandbox" in form.content.decode()

    response = admin_client.post(
        URL,
        {
            "action": "send_test",
            "_selected_action": [account.pk],
            "apply": "1",
            "receiver": "ops@acme.test",
            "content": json.dumps({"subject": "Test {$who}", "text": "It works"}),
            "variables": json.dumps({"who": "ops"}),
        },
        follow=True,
    )

    message = Message.objects.get(receiver="ops@acme.test")
    assert str(message.message_id) in response.content.decode()
    batch_deliver([message.pk])
    message.refresh_from_db()
    assert message.state == "SENT" and message.account_id == account.pk
    assert SandboxDelivery.objects.get().content["subject"] == "Test ops"


def test_send_test_reports_invalid_content(admin_client, smtp_account):
    response = admin_client.post(
        URL,
        {
            "action": "send_test",
            "_selected_action": [smtp_account.pk],
            "apply": "1",
            "receiver": "ops@acme.test",
            "content": json.dumps({"text": "no subject"}),
        },
    )

    assert "an email needs a subject" in response.content.decode()
    assert not Message.objects.exists()
