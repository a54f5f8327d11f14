"""Profiles, `user:<id>` receivers, opt-outs (API and signed link), List-Unsubscribe, and
the rule configuration API."""

from __future__ import annotations

from urllib.parse import urlsplit

from channels_app.models import ChannelAccount, SandboxDelivery
from notify.delivery import batch_deliver
from notify.models import OptOut, RuleSettings
from notify.profiles import unsubscribe_token
from templates_app.models import MessageTemplate
from tests.rules.conftest import states, trace


def _profile(api, **fields):
    response = api.post("/api/v1/profiles", fields, format="json")
    assert response.status_code in (200, 201), response.content
    return response


def test_profile_upsert_by_external_id(api):
    assert _profile(api, external_id="u1", email="a@example.com").status_code == 201
    again = _profile(api, external_id="u1", phone="+8613800000000", time_zone="Asia/Shanghai")
    assert again.status_code == 200
    body = api.get("/api/v1/profiles/u1").json()
    assert (body["email"], body["phone"], body["time_zone"]) == (
        "a@example.com",
        "+8613800000000",
        "Asia/Shanghai",
    )
    bad = api.post(
        "/api/v1/profiles", {"external_id": "u2", "time_zone": "Mars/Olympus"}, format="json"
    )
    assert bad.status_code == 400
    assert "time_zone" in bad.json()["fields"]


def test_send_to_user_ids_resolves_the_channel_address(api, send, email_template):
    _profile(api, external_id="u1", email="ada@example.com")
    _profile(api, external_id="u2", phone="+8613800000000")
    response = api.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": ["user:u1", "user:u2", "user:nobody"],
         "variables": {"name": "Ada", "code": "1"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202, response.content
    body = response.json()
    assert [m["receiver"] for m in body["messages"]] == ["ada@example.com"]
    reasons = {r["receiver"]: r["reason"] for r in body["rejected"]}
    assert reasons["user:u2"] == "user 'u2' has no email address in their profile"
    assert reasons["user:nobody"] == "unknown user 'nobody': no profile with this id"


def test_send_to_only_unknown_users_is_a_400(api, email_template):
    response = api.post(
        "/api/v1/send",
        {
            "template": "welcome",
            "receivers": ["user:ghost"],
            "variables": {"name": "A", "code": "1"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "unknown user 'ghost'" in response.json()["message"]


def test_preferences_opt_out_stops_that_type_only(
    api, send, tenant, email_template, verification_template
):
    _profile(api, external_id="u1", email="ada@example.com")
    put = api.put(
        "/api/v1/profiles/u1/preferences",
        {"opt_outs": [{"channel": "email", "message_type": "notice"}]},
        format="json",
    )
    assert put.status_code == 200, put.content
    assert put.json()["opt_outs"] == [{"channel": "email", "message_type": "notice"}]
    [notice] = send("welcome", ["user:u1"], {"name": "Ada", "code": "1"})
    [code] = send("code", ["user:u1"], {"code": "42"})
    batch_deliver([notice.pk, code.pk])
    assert states([notice, code]) == ["OPTED_OUT", "SENT"]
    assert trace(notice) == ["ACCEPTED", "QUEUED", "OPTED_OUT"]


def test_verification_codes_cannot_be_opted_out_of(api):
    _profile(api, external_id="u1", email="ada@example.com")
    response = api.put(
        "/api/v1/profiles/u1/preferences",
        {"opt_outs": [{"channel": "email", "message_type": "verification"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "opt_outs" in response.json()["fields"]
    direct = api.post(
        "/api/v1/opt-outs",
        {"channel": "email", "receiver": "a@example.com", "message_type": "verification"},
        format="json",
    )
    assert direct.status_code == 400
    assert "message_type" in direct.json()["fields"]


def test_opt_out_follows_the_users_new_address(api, tenant):
    _profile(api, external_id="u1", email="old@example.com")
    api.put(
        "/api/v1/profiles/u1/preferences",
        {"opt_outs": [{"channel": "email", "message_type": "marketing"}]},
        format="json",
    )
    _profile(api, external_id="u1", email="new@example.com")
    assert list(OptOut.objects.values_list("receiver", flat=True)) == ["new@example.com"]


def test_email_carries_list_unsubscribe_and_the_link_opts_out(send, tenant, email_template, client):
    # given an email that was sent with its unsubscribe headers
    [message] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "1"})
    batch_deliver([message.pk])
    headers = SandboxDelivery.objects.get().content["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    path = urlsplit(url).path
    # when the page is opened nothing changes; a one-click POST opts out
    assert client.get(path).status_code == 200
    assert not OptOut.objects.exists()
    response = client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    # then the next notice to that address is not sent
    assert OptOut.objects.get().source == "link"
    [later] = send("welcome", ["ada@example.com"], {"name": "Ada", "code": "2"})
    batch_deliver([later.pk])
    assert states([later]) == ["OPTED_OUT"]


def test_forged_unsubscribe_token_is_refused(client, tenant):
    token = unsubscribe_token(tenant.pk, "email", "ada@example.com", "notice")
    assert client.post(f"/api/v1/u/{token}x").status_code == 400
    assert not OptOut.objects.exists()


def test_verification_email_has_no_unsubscribe_header(send, verification_template):
    [code] = send("code", ["ada@example.com"], {"code": "1"})
    batch_deliver([code.pk])
    assert "headers" not in SandboxDelivery.objects.get().content


def test_smtp_sends_the_list_unsubscribe_header(send, tenant, fake_smtp):
    account = ChannelAccount.objects.create(
        app=tenant, name="smtp", channel="email", provider="smtp",
        config={"host": "127.0.0.1", "port": fake_smtp.port, "from_email": "no-reply@example.com"},
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=tenant, name="m", code="mail", channel="email", receiver_type="email",
        channel_account=account, content={"subject": "Hi", "text": "t"},
    )  # fmt: skip
    [message] = send("mail", ["ada@example.com"])
    batch_deliver([message.pk])
    assert states([message]) == ["SENT"]
    _, email = fake_smtp.messages[0]
    assert email["List-Unsubscribe"].strip().startswith("<http")
    assert "/api/v1/u/" in email["List-Unsubscribe"]
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_rule_settings_api(api, tenant):
    assert api.get("/api/v1/rule-settings").json()["frequency_cap"] == 5
    response = api.patch(
        "/api/v1/rule-settings",
        {"frequency_cap": 3, "frequency_caps": {"sms": 1}, "quiet_start": "21:30"},
        format="json",
    )
    assert response.status_code == 200, response.content
    row = RuleSettings.objects.get(app=tenant)
    assert (row.frequency_cap, row.frequency_caps, row.quiet_start.hour) == (3, {"sms": 1}, 21)
    bad = api.patch("/api/v1/rule-settings", {"frequency_caps": {"pigeon": 1}}, format="json")
    assert bad.status_code == 400
    assert "frequency_caps" in bad.json()["fields"]
    bad = api.patch("/api/v1/rule-settings", {"discarded_channels": ["fax"]}, format="json")
    assert bad.status_code == 400


def test_rule_objects_api(api, tenant, email_template, sandbox_account):
    word = api.post("/api/v1/sensitive-words", {"word": " casino "}, format="json")
    assert word.status_code == 201 and word.json()["word"] == "casino"
    dup = api.post("/api/v1/sensitive-words", {"word": "CASINO"}, format="json")
    assert dup.status_code == 400 and "word" in dup.json()["fields"]
    rule = api.post(
        "/api/v1/template-rules",
        {"template": email_template.pk, "night_mode": "defer"},
        format="json",
    )
    assert rule.status_code == 201, rule.content
    bad = api.post(
        "/api/v1/template-rules", {"template": email_template.pk, "night_mode": "x"}, format="json"
    )
    assert bad.status_code == 400 and "night_mode" in bad.json()["fields"]
    flow = api.post(
        "/api/v1/flow-limits",
        {"account": sandbox_account.pk, "rate_per_second": 10, "burst": 20},
        format="json",
    )
    assert flow.status_code == 201, flow.content
    bad = api.post(
        "/api/v1/flow-limits", {"account": sandbox_account.pk, "rate_per_second": 0}, format="json"
    )
    assert bad.status_code == 400 and "rate_per_second" in bad.json()["fields"]
