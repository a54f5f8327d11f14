"""Admin rough edges a newcomer meets in the first hour (issue 16, finding 7): branding,
"View site", the dashboard link, UTF-8 and a CJK font stack, the account pages and a
finished campaign's page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from channels_app.models import ChannelAccount
from notify.actors import Actor
from notify.campaigns import services
from tests.campaigns.test_campaigns import run_now

ACCOUNTS = "/admin/channels_app/channelaccount/"


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")


@pytest.fixture
def admin_web(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


def _title(page) -> str:
    return re.search(r"<title>(.*?)</title>", page.content.decode(), re.S)[1]


def test_branding_view_site_and_dashboard_link(admin_web):
    index = admin_web.get("/admin/")
    html = index.content.decode()

    assert "Tidings administration" in html and "Django administration" not in html
    assert _title(index).endswith("| Tidings admin")
    # "View site" opens the delivery dashboard (there is nothing at /), which exists.
    view_site = re.search(r'<a href="([^"]+)">View site</a>', html)[1]
    assert view_site == "/admin/tidings/dashboard/"
    assert admin_web.get(view_site).status_code == 200
    assert 'href="/admin/tidings/dashboard/">Delivery dashboard</a>' in html


def test_pages_declare_utf8_and_a_cjk_font_stack(admin_web, tenant):
    page = admin_web.get(ACCOUNTS)
    html = page.content.decode()

    assert page["Content-Type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in html[:2048]
    stack = re.search(r"--font-family-primary:([^;]+);", html)[1]
    assert "Noto Sans CJK SC" in stack and "Microsoft YaHei" in stack


def test_account_page_shows_provider_once_and_human_config_labels(admin_web, tenant):
    account = ChannelAccount.objects.create(
        app=tenant, name="sandbox-email", channel="email", provider="sandbox"
    )
    html = admin_web.get(f"{ACCOUNTS}{account.pk}/change/").content.decode()

    assert html.count("field-provider") == 1
    assert ">Reject receivers:</label>" in html
    assert "Cfg " not in html


def test_add_account_title_has_no_markup_and_config_is_not_null(admin_web):
    page = admin_web.get(f"{ACCOUNTS}add/")
    html = page.content.decode()

    assert "<" not in _title(page) and "href" not in _title(page)
    assert 'href="?provider=sandbox"' in html  # the picker is still on the page
    config = re.search(r'<textarea name="config"[^>]*>(.*?)</textarea>', html, re.S)[1]
    assert config.strip() == "{}"


def test_finished_campaign_page_is_read_only(admin_web, root, tenant, sandbox_account):
    from templates_app.models import MessageTemplate

    MessageTemplate.objects.create(
        app=tenant, name="Promo", code="promo", channel="email", receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Your code {$code}"},
    )  # fmt: skip
    campaign = services.campaign_create(
        tenant, Actor(user=root), name="Done", template="promo",
        audience={"type": "list", "receivers": ["a@example.com"]},
        variables={"name": "n", "code": "c"},
    )  # fmt: skip
    services.campaign_submit(campaign, Actor(app=tenant))  # through the API: no user
    services.campaign_start(campaign)
    run_now(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == "completed"

    html = admin_web.get(f"/admin/notify/campaign/{campaign.pk}/change/").content.decode()

    assert 'name="send_at' not in html and 'name="cron"' not in html
    assert 'name="priority"' not in html and 'name="audience_upload"' not in html
    assert 'name="_save"' not in html
    submitted = re.search(r"Submitted by:</label>\s*<div class=\"readonly\">([^<]*)<", html)[1]
    assert submitted.startswith("app:acme, ")  # the API's App, not "-"
