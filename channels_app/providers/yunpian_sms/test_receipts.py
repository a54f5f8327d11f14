"""Yunpian delivery reports: the pushed form (sms_status) and pull_status.json, against the
fake that keeps the reports of what it accepted."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_http import FakeHTTPServer
from channels_app.providers.yunpian_sms.fake import FakeYunpianSms
from notify.services import app_create
from tracking.models import Message
from tracking.receipts.base import receipt_token
from tracking.receipts.pull import receipts_pull

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def tenant(db):
    return app_create("acme")[0]


@pytest.fixture
def fake_http():
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def yunpian(tenant, fake_http, settings):
    settings.TIDINGS_RECEIPT_PULL_PROVIDERS = ["yunpian_sms"]
    fake = FakeYunpianSms()
    fake_http.responder = fake
    account = ChannelAccount.objects.create(
        app=tenant, name="yp", channel="sms", provider="yunpian_sms",
        config={"apikey": fake.apikey}, base_url=fake_http.url,
    )  # fmt: skip
    return fake, account


def _post(account, body: str, token: str | None = None):
    token = receipt_token(account.pk) if token is None else token
    return Client().post(f"/r/yunpian_sms/{account.pk}/{token}", body, content_type=FORM)


def _report(sid, mobile, status="SUCCESS", error_msg="DELIVRD", detail=""):
    return {"sid": sid, "uid": None, "user_receive_time": "2026-01-02 03:04:05", "error_msg": error_msg,
            "mobile": mobile, "report_status": status, "error_detail": detail}  # fmt: skip


def test_pushed_reports_once_or_twice_encoded(tenant, yunpian, sent_message):
    _, account = yunpian
    ok = sent_message(account, "+8613800000001", "3310228982")
    bad = sent_message(account, "13800000002", "3310228983")
    reports = [_report(3310228982, "13800000001"),
               _report(3310228983, "13800000002", "FAIL", "MK:0001", "空号"),
               _report(3310228984, "13800000009", "UNKNOWN")]  # fmt: skip
    once = urlencode({"sms_status": json.dumps(reports[:1])})
    twice = urlencode({"sms_status": quote(json.dumps(reports[1:]))})

    assert _post(account, once, token="0" * 32).status_code == 403
    first, second = _post(account, once), _post(account, twice)

    assert (first.status_code, first.content) == (200, b"0")
    assert (second.status_code, second.content) == (200, b"0")
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert (ok.state, bad.state) == ("DELIVERED", "UNDELIVERED")
    assert ok.events.get(state="DELIVERED").at.isoformat() == "2026-01-01T19:04:05+00:00"
    assert bad.events.get(state="UNDELIVERED").detail == "yunpian: undelivered (MK:0001 空号)"


@pytest.mark.parametrize(
    ("body", "problem"),
    [("", "sms_status: required"), (urlencode({"sms_status": "[{"}), "sms_status: expected"),
     (urlencode({"sms_status": "[1, 2]"}), "sms_status: expected")],
)  # fmt: skip
def test_a_bad_push_is_a_400_naming_the_field_and_writes_nothing(
    tenant, yunpian, body, problem, sent_message
):
    _, account = yunpian
    message = sent_message(account, "13800000001", "1")

    response = _post(account, body)

    assert response.status_code == 400
    assert response.json()["message"].startswith(problem)
    message.refresh_from_db()
    assert message.state == "SENT" and message.events.count() == 0


def test_pull_drains_whole_pages_and_matches_each_sid(tenant, yunpian, fake_http, sent_message):
    fake, account = yunpian
    fake.reports = [_report(5000 + n, f"138{n:08d}") for n in range(150)]
    fake.reports[7] = _report(5007, "13800000007", "FAIL", "UNDELIV", "关机")
    for n in (3, 7, 149):
        sent_message(account, f"138{n:08d}", str(5000 + n))

    totals = receipts_pull(timezone.now())

    assert (totals["received"], totals["moved"], totals["errors"]) == (150, 3, 0)
    assert fake.reports == []
    assert len(fake_http.requests) == 2  # 100, then a short page of 50: drained
    states = dict(Message.objects.filter(account=account).values_list("receiver", "state"))
    assert states == {"13800000003": "DELIVERED", "13800000007": "UNDELIVERED",
                      "13800000149": "DELIVERED"}  # fmt: skip


def test_pull_not_enabled_at_yunpian_is_an_account_error_not_a_crash(tenant, yunpian, sent_message):
    fake, account = yunpian
    fake.pull_enabled = False
    sent_message(account, "13800000001", "1")

    totals = receipts_pull(timezone.now())

    assert (totals["errors"], totals["accounts"], totals["moved"]) == (1, 0, 0)
