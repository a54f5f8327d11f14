"""Templates and channel accounts over the API: ownership, validation, write-only secrets."""

from __future__ import annotations

from django.core.management import call_command
from django.db import connection

from channels_app.models import ChannelAccount
from notify.models import ApiKey, App
from notify.services import app_create


def test_channel_account_credentials_are_write_only_and_encrypted_at_rest(api):
    response = api.post(
        "/api/v1/channel-accounts/",
        {
            "name": "mail",
            "channel": "email",
            "provider": "smtp",
            "config": {
                "host": "smtp.example.com",
                "port": 587,
                "username": "u",
                "password": "hunter2-secret",
                "from_email": "a@example.com",
            },
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert "config" not in body
    assert "hunter2-secret" not in response.content.decode()
    assert "password" in body["config_keys"]
    listing = api.get("/api/v1/channel-accounts/").content.decode()
    assert "hunter2-secret" not in listing
    with connection.cursor() as cursor:
        cursor.execute("SELECT config FROM channels_app_channelaccount WHERE id = %s", [body["id"]])
        [raw] = cursor.fetchone()
    assert "hunter2" not in raw
    assert "smtp.example.com" not in raw
    assert ChannelAccount.objects.get(pk=body["id"]).config["password"] == "hunter2-secret"


def test_patch_without_the_secret_keeps_it(api):
    created = api.post(
        "/api/v1/channel-accounts/",
        {
            "name": "hook",
            "channel": "webhook",
            "provider": "webhook",
            "config": {"url": "https://example.com/in", "secret": "s3"},
        },
        format="json",
    ).json()

    response = api.patch(
        f"/api/v1/channel-accounts/{created['id']}/",
        {"config": {"url": "https://example.com/v2"}},
        format="json",
    )

    assert response.status_code == 200
    config = ChannelAccount.objects.get(pk=created["id"]).config
    assert config["url"] == "https://example.com/v2"
    assert config["secret"] == "s3"


def test_account_config_errors_name_the_field(api):
    response = api.post(
        "/api/v1/channel-accounts/",
        {"name": "mail", "channel": "email", "provider": "smtp", "config": {"port": 99999}},
        format="json",
    )

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "config.host" in fields
    assert "config.port" in fields
    assert "config.from_email" in fields


def test_provider_must_send_the_channel(api):
    response = api.post(
        "/api/v1/channel-accounts/",
        {"name": "x", "channel": "sms", "provider": "smtp", "config": {}},
        format="json",
    )
    assert response.status_code == 400
    assert "channel" in response.json()["fields"]


def test_template_crud_and_validation(api, sandbox_account):
    body = {
        "name": "Welcome",
        "code": "welcome",
        "channel": "email",
        "receiver_type": "email",
        "content": {"subject": "Hi {$name}", "text": "Hello"},
        "channel_account": sandbox_account.pk,
    }
    created = api.post("/api/v1/templates/", body, format="json")
    assert created.status_code == 201, created.content

    duplicate = api.post("/api/v1/templates/", body, format="json")
    assert duplicate.status_code == 400
    assert "code" in duplicate.json()["fields"]

    bad_content = api.post(
        "/api/v1/templates/", {**body, "code": "other", "content": []}, format="json"
    )
    assert bad_content.status_code == 400
    assert "content" in bad_content.json()["fields"]

    template_id = created.json()["id"]
    patched = api.patch(f"/api/v1/templates/{template_id}/", {"status": "disabled"}, format="json")
    assert patched.json()["status"] == "disabled"
    assert api.delete(f"/api/v1/templates/{template_id}/").status_code == 204


def test_template_content_is_checked_by_the_provider_it_will_use(api, tenant):
    account = ChannelAccount.objects.create(
        app=tenant,
        name="smtp",
        channel="email",
        provider="smtp",
        config={"host": "h", "from_email": "a@example.com"},
    )

    response = api.post(
        "/api/v1/templates/",
        {
            "name": "n",
            "code": "c",
            "channel": "email",
            "receiver_type": "email",
            "content": {"text": "no subject"},
            "channel_account": account.pk,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "content.subject" in response.json()["fields"]


def test_another_apps_objects_are_404_and_cannot_be_referenced(api, db, client):
    other, other_key = app_create("other")
    theirs = ChannelAccount.objects.create(
        app=other, name="theirs", channel="email", provider="sandbox"
    )

    assert api.get(f"/api/v1/channel-accounts/{theirs.pk}/").status_code == 404
    assert api.delete(f"/api/v1/channel-accounts/{theirs.pk}/").status_code == 404
    response = api.post(
        "/api/v1/templates/",
        {
            "name": "n",
            "code": "c",
            "channel": "email",
            "receiver_type": "email",
            "content": {"subject": "s", "text": "t"},
            "channel_account": theirs.pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "channel_account" in response.json()["fields"]


def test_an_account_in_use_cannot_be_deleted(api, email_template, sandbox_account):
    api.post(
        "/api/v1/send",
        {
            "template": "welcome",
            "receivers": ["a@example.com"],
            "variables": {"name": "n", "code": "1"},
        },
        format="json",
    )

    response = api.delete(f"/api/v1/channel-accounts/{sandbox_account.pk}/")

    assert response.status_code == 409
    assert response.json()["error"] == "in_use"


def test_create_app_prints_a_key_that_works_once_stored_only_hashed(db, capsys, client):
    call_command("create_app", "billing")

    output = capsys.readouterr().out
    key = output.rsplit(": ", 1)[1].strip()
    app = App.objects.get(name="billing")
    stored = ApiKey.objects.get(app=app)
    assert key not in (stored.key_hash, stored.prefix)
    assert client.get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 200


def test_revoked_key_is_401(api, app_and_key, client):
    app, key = app_and_key
    ApiKey.objects.filter(app=app).update(revoked_at="2020-01-01T00:00:00Z")

    assert client.get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 401


def test_openapi_schema_and_docs_are_served(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/send" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_routed_template_content_must_suit_every_provider_it_can_route_to(api, tenant):
    ChannelAccount.objects.create(app=tenant, name="box", channel="email", provider="sandbox")
    ChannelAccount.objects.create(
        app=tenant,
        name="smtp",
        channel="email",
        provider="smtp",
        config={"host": "h", "from_email": "a@example.com"},
    )

    response = api.post(
        "/api/v1/templates/",
        {
            "name": "n",
            "code": "c",
            "channel": "email",
            "receiver_type": "email",
            "content": {"text": "no subject"},
        },
        format="json",
    )

    assert response.status_code == 400
    # A subject is what every email needs: refused before any provider is asked.
    assert response.json()["fields"]["content.subject"] == ["an email needs a subject"]
