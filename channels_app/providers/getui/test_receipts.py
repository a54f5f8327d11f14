"""Getui message receipts: one signed JSON receipt per line, matched by taskid + cid."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from channels_app.models import ChannelAccount
from channels_app.providers.getui.fake import FakeGetui
from notify.services import app_create


@pytest.fixture
def tenant(db):
    return app_create("acme")[0]


@pytest.fixture
def getui(tenant):
    fake = FakeGetui(app_id="GxApp", app_key="GxKey", master_secret="GxSecret")
    account = ChannelAccount.objects.create(
        app=tenant, name="gt", channel="push", provider="getui",
        config={"app_id": "GxApp", "app_key": "GxKey", "master_secret": "GxSecret"},
    )  # fmt: skip
    return fake, account


def _post(account, body: bytes):
    return Client().post(f"/r/getui/{account.pk}", body, content_type="text/plain")


def test_a_list_push_task_is_matched_by_cid(tenant, getui, sent_message):
    fake, account = getui
    a = sent_message(account, "cid-a", "RASL_1")
    b = sent_message(account, "cid-b", "RASL_1")
    shown = fake.receipt_body(("cid-b", "RASL_1", {"actionId": "60001"}))
    custom = fake.receipt_body(("cid-a", "RASL_1", {"actionId": "90001"}))  # app-defined

    assert _post(account, shown).json() == {"code": 0, "msg": "ok"}
    assert _post(account, custom).status_code == 200

    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, b.state) == ("SENT", "DELIVERED")
    assert b.events.get().detail == "getui: notification shown"


def test_one_forged_line_refuses_the_whole_request(tenant, getui, sent_message):
    fake, account = getui
    message = sent_message(account, "cid-a", "RASS_1")
    good = fake.receipt_body(("cid-a", "RASS_1", {}))
    other_app = FakeGetui(app_id="Other", app_key="k", master_secret="GxSecret")
    foreign = other_app.receipt_body(("cid-a", "RASS_1", {}))  # signed, but another app
    forged = fake.receipt_body(("cid-a", "RASS_1", {"sign": "0" * 32}))

    for body in (good + b"\n" + forged, foreign):
        response = _post(account, body)
        assert response.status_code == 403
        assert response.json()["error"] == "invalid_receipt"

    message.refresh_from_db()
    assert message.state == "SENT" and message.events.count() == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"", "body: one JSON receipt per line"), (b"{not json", "body: each line"),
     (b"[1]", "body: each line"), (json.dumps({"appid": "GxApp", "cid": "c"}).encode(),
                                   "line 1: taskid, msgid, sign required")],
)  # fmt: skip
def test_a_malformed_receipt_is_a_400_naming_what_is_wrong(getui, body, problem):
    _, account = getui

    response = _post(account, body)

    assert response.status_code == 400
    assert response.json()["message"].startswith(problem)


def test_cids_that_share_digits_are_not_confused(tenant, getui, sent_message):
    fake, account = getui
    first = sent_message(account, "f1234567ab", "RASL_2")
    second = sent_message(account, "ec1234567a", "RASL_2")

    _post(account, fake.receipt_body(("f1234567ab", "RASL_2", {})))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("DELIVERED", "SENT")
