"""Credentials: encrypted at rest, masked in the admin and the API, never in a log line."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connection

from channels_app.models import ChannelAccount
from channels_app.secrets import account_secret_values, url_mask
from config.logredact import RedactSecretsFilter, redact, secrets_register
from tracking.callbacks import callback_post
from tracking.models import CallbackEndpoint

URL = "/admin/channels_app/channelaccount/"
HEADER_SECRET = "hdr-value-0a1b2c3d4e"
QUERY_TOKEN = "tok-9f8e7d6c5b4a"
SIGNING = "sign-secret-123456"


# --- log redaction ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET https://x.example/hook?token=abcd1234efgh&page=2", "abcd1234efgh"),
        ("POST /send?access_token=Zx9-secret-value HTTP/1.1", "Zx9-secret-value"),
        ("url=https://h/x?key=k3y-value;secret=s3cr3t-value", "s3cr3t-value"),
        ("signature=0a9b8c7d6e5f in the query", "0a9b8c7d6e5f"),
        ("headers={'Authorization': 'Bearer eyJhbGciOi-something'}", "eyJhbGciOi-something"),
        ("Authorization: Api-Key 7Hk2mPq9sLx4-key", "7Hk2mPq9sLx4-key"),
        ('{"X-Api-Key": "ak-live-55aa66bb"}', "ak-live-55aa66bb"),
        ('{"secret": "whsec_abcdef123", "ok": 1}', "whsec_abcdef123"),
        ("https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
         "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("smtp://mailer:hunter2-pass@smtp.example.com:587", "hunter2-pass"),
        ("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX", "XXXXsecretXXXX"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----", "MIIEv"),
    ],
)  # fmt: skip
def test_redact_masks_credential_shapes(text, secret):
    assert secret not in redact(text)
    assert "[redacted]" in redact(text)


def test_redact_masks_registered_values_and_leaves_plain_text():
    secrets_register(["custom-header-value-77"])
    assert redact("failed with custom-header-value-77 in it") == "failed with [redacted] in it"
    assert redact("message 42 to ada@example.com failed: 503") == (
        "message 42 to ada@example.com failed: 503"
    )


def test_the_console_handler_carries_the_filter_and_it_redacts_args_and_tracebacks():
    assert "redact" in django_settings.LOGGING["handlers"]["console"]["filters"]
    console = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert console and all(
        any(isinstance(f, RedactSecretsFilter) for f in h.filters) for h in console
    )
    try:
        raise ValueError("bad header value 'Bearer sk-live-abcdef123456'")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "call to %s failed", ("https://h/?token=tk-0000111122",),
            exc_info=sys.exc_info(),
        )  # fmt: skip
    RedactSecretsFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "tk-0000111122" not in text and "sk-live-abcdef123456" not in text
    assert "ValueError" in text


# --- channel accounts: masked in admin and API ---------------------------------------------


@pytest.fixture
def webhook_account(tenant):
    return ChannelAccount.objects.create(
        app=tenant, name="hook", channel="webhook", provider="webhook",
        config={"url": f"https://hooks.example.com/in?token={QUERY_TOKEN}&v=2",
                "secret": SIGNING, "headers": {"X-Custom-Auth": HEADER_SECRET}},
        base_url=f"https://gw.example.com/relay?api_key={QUERY_TOKEN}",
    )  # fmt: skip


def test_account_secret_values_cover_headers_and_url_tokens(webhook_account):
    values = account_secret_values(webhook_account)
    assert {HEADER_SECRET, QUERY_TOKEN, SIGNING} <= set(values)


def test_admin_masks_header_values_and_url_tokens_and_keeps_them_on_save(
    admin_client, webhook_account, tenant
):
    page = admin_client.get(f"{URL}{webhook_account.pk}/change/").content.decode()
    for secret in (HEADER_SECRET, QUERY_TOKEN, SIGNING):
        assert secret not in page
    assert "hooks.example.com/in?token=********" in page

    response = admin_client.post(
        f"{URL}{webhook_account.pk}/change/",
        {"app": tenant.pk, "name": "hook", "channel": "webhook", "enabled": "on",
         "weight": 100, "type_weights": "{}",
         "base_url": url_mask(webhook_account.base_url),
         "cfg_url": "https://hooks.example.com/in?token=********&v=2",
         "cfg_secret": "", "cfg_headers": json.dumps({"X-Custom-Auth": "********"}),
         "cfg_batch_size": 1},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    webhook_account.refresh_from_db()
    assert webhook_account.config["headers"] == {"X-Custom-Auth": HEADER_SECRET}
    assert webhook_account.config["url"].endswith(f"token={QUERY_TOKEN}&v=2")
    assert webhook_account.config["secret"] == SIGNING
    assert webhook_account.base_url.endswith(QUERY_TOKEN)


def test_api_masks_url_tokens(api, webhook_account):
    body = api.get(f"/api/v1/channel-accounts/{webhook_account.pk}").content.decode()
    assert QUERY_TOKEN not in body and HEADER_SECRET not in body and SIGNING not in body
    assert "api_key=********" in body


# --- the callback signing secret ------------------------------------------------------------


def test_callback_secret_is_encrypted_at_rest_and_still_signs(tenant, fake_http):
    endpoint = CallbackEndpoint.objects.create(
        app=tenant, url=f"{fake_http.url}/cb?token={QUERY_TOKEN}", secret="cb-" + "s" * 30
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM tracking_callbackendpoint WHERE id = %s", [endpoint.pk])
        raw = cursor.fetchone()[0]
    assert "sss" not in raw and raw.startswith("gAAAAA")
    assert CallbackEndpoint.objects.get(pk=endpoint.pk).secret == "cb-" + "s" * 30

    assert callback_post(CallbackEndpoint.objects.get(pk=endpoint.pk), {"events": []}) == 200
    assert fake_http.requests[0].headers["x-tidings-signature"]


def test_callback_api_masks_the_url_token_and_keeps_it_on_put(api, tenant):
    put = api.put("/api/v1/callback", {"url": f"https://cb.example.com/in?token={QUERY_TOKEN}",
                  "secret": "x" * 20}, format="json")  # fmt: skip
    assert put.status_code in (200, 201), put.content
    got = api.get("/api/v1/callback").json()
    assert QUERY_TOKEN not in json.dumps(got) and got["url"].endswith("token=********")
    assert api.put("/api/v1/callback", {"url": got["url"]}, format="json").status_code == 200
    assert CallbackEndpoint.objects.get(app=tenant).url.endswith(QUERY_TOKEN)
