"""Per-locale templates (issue 15): `locales` variants by BCP 47 tag, chosen per receiver
from the send's `locale` or their profile's, with the en-GB -> en -> default fallback."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from channels_app.models import SandboxDelivery
from notify.campaigns.crowd import CrowdReader
from notify.campaigns.execution import campaign_run_execute
from notify.models import CampaignRun, UserProfile
from templates_app.locales import locale_canonical, locale_chain
from templates_app.models import MessageTemplate
from tests.campaigns.conftest import upload
from tests.e2e.conftest import start_worker, wait_until  # noqa: F401 - the real-worker fixture
from tracking.models import Message

ZH = {"subject": "你好 {$name}", "text": "欢迎, {$name}"}
EN = {"subject": "Hello {$name}", "text": "Welcome, {$name}"}
DEFAULT = {"subject": "Hallo {$name}", "text": "Willkommen, {$name}"}


@pytest.fixture
def localized(tenant, sandbox_account) -> MessageTemplate:
    return MessageTemplate.objects.create(
        app=tenant,
        name="Greeting",
        code="greeting",
        channel="email",
        receiver_type="email",
        content=DEFAULT,
        locales={"zh-CN": ZH, "en": EN},
    )


def profiles(tenant) -> None:
    for external_id, locale in (("li", "zh-CN"), ("ada", "en-GB"), ("jan", "nl")):
        UserProfile.objects.create(
            app=tenant, external_id=external_id, email=f"{external_id}@example.com", locale=locale
        )


def test_tags_are_canonical_and_fall_back_to_shorter_ones():
    assert locale_canonical("zh-cn") == "zh-CN"
    assert locale_canonical("ZH-hant-tw") == "zh-Hant-TW"
    assert locale_canonical("es-419") == "es-419"
    for bad in ("", "english_GB", "e", "en-", "zh_CN", "en GB", 7):
        assert locale_canonical(bad) is None
    assert locale_chain("zh-Hant-TW") == ["zh-Hant-TW", "zh-Hant", "zh"]


def test_template_locales_are_validated_with_the_field_named(api, sandbox_account):
    body = {"name": "G", "code": "g", "channel": "email", "receiver_type": "email",
            "content": DEFAULT}  # fmt: skip

    bad_tag = api.post("/api/v1/templates/", {**body, "locales": {"en_GB": EN}}, format="json")
    no_subject = api.post(
        "/api/v1/templates/", {**body, "locales": {"en": {"text": "x"}}}, format="json"
    )
    not_object = api.post("/api/v1/templates/", {**body, "locales": ["en"]}, format="json")
    ok = api.post("/api/v1/templates/", {**body, "locales": {"zh-cn": ZH}}, format="json")

    assert bad_tag.status_code == 400 and "locales.en_GB" in bad_tag.json()["fields"]
    assert no_subject.status_code == 400 and "locales.en.subject" in no_subject.json()["fields"]
    assert not_object.status_code == 400 and "locales" in not_object.json()["fields"]
    assert ok.status_code == 201 and ok.json()["locales"] == {"zh-CN": ZH}
    assert MessageTemplate.objects.filter(code="g").count() == 1


def test_reviewed_apps_change_locales_only_on_a_draft(api, tenant, localized):
    tenant.require_template_review = True
    tenant.save()
    url = f"/api/v1/templates/{localized.pk}/"

    active = api.patch(url, {"locales": {"en": EN}}, format="json")
    draft = api.patch(url, {"status": "draft", "locales": {"en": EN}}, format="json")

    assert active.status_code == 400 and "locales" in active.json()["fields"]
    assert draft.status_code == 200, draft.content
    assert MessageTemplate.objects.get(pk=localized.pk).locales == {"en": EN}


def test_preview_renders_the_variant_of_a_locale(api, localized):
    url = f"/api/v1/templates/{localized.pk}/preview"
    variables = {"name": "Li"}

    zh = api.post(url, {"variables": variables, "locale": "zh-CN"}, format="json").json()
    en_gb = api.post(url, {"variables": variables, "locale": "en-GB"}, format="json").json()
    other = api.post(url, {"variables": variables, "locale": "fr"}, format="json").json()
    bad = api.post(url, {"variables": variables, "locale": "not a tag"}, format="json")

    assert (zh["locale"], zh["rendered"]["email"]["subject"]) == ("zh-CN", "你好 Li")
    assert (en_gb["locale"], en_gb["rendered"]["email"]["subject"]) == ("en", "Hello Li")
    assert (other["locale"], other["rendered"]["email"]["subject"]) == ("", "Hallo Li")
    assert bad.status_code == 400 and "locale" in bad.json()["fields"]


def test_profile_locale_is_validated_and_stored_canonical(api):
    ok = api.post("/api/v1/profiles/", {"external_id": "u1", "locale": "en-gb"}, format="json")
    bad = api.post("/api/v1/profiles/", {"external_id": "u2", "locale": "en_GB"}, format="json")

    assert ok.status_code == 201 and ok.json()["locale"] == "en-GB"
    assert bad.status_code == 400 and "locale" in bad.json()["fields"]
    assert not UserProfile.objects.filter(external_id="u2").exists()


def test_explicit_locales_win_over_profiles_and_are_recorded(api, tenant, localized):
    profiles(tenant)
    answer = api.post(
        "/api/v1/send",
        {
            "template": "greeting",
            "variables": {"name": "N"},
            "messages": [
                {"receiver": "user:li"},  # profile zh-CN
                {"receiver": "user:li", "locale": "en"},  # explicit wins
                {"receiver": "jan@example.com"},  # profile nl: default
            ],
        },
        format="json",
    )
    bad = api.post(
        "/api/v1/send",
        {"template": "greeting", "variables": {"name": "N"},
         "messages": [{"receiver": "a@example.com", "locale": "en_US"}]},
        format="json",
    )  # fmt: skip

    assert answer.status_code == 202, answer.content
    ids = [m["message_id"] for m in answer.json()["messages"]]
    rows = {str(m.message_id): m for m in Message.objects.filter(message_id__in=ids)}
    assert [rows[i].locale for i in ids] == ["zh-CN", "en", ""]
    assert [rows[i].content["subject"] for i in ids] == ["你好 N", "Hello N", "Hallo N"]
    shown = api.get(f"/api/v1/messages/{ids[0]}").json()
    assert shown["locale"] == "zh-CN"
    trace = io.StringIO()
    call_command("tidings", "trace", ids[0], stdout=trace)
    assert "(email, normal, locale zh-CN)" in trace.getvalue()
    assert bad.status_code == 400 and "messages[0].locale" in bad.json()["fields"]


def test_a_crowd_file_carries_a_locale_column():
    text = "receiver,name,locale\na@example.com,A,zh-CN\nb@example.com,B,\nc@example.com,C,x_y\n"

    rows = list(CrowdReader(io.BytesIO(text.encode()), ["name"]))

    assert [(r.locale, r.variables, r.problem is None) for r in rows] == [
        ("zh-CN", {"name": "A"}, True),
        ("", {"name": "B"}, True),
        ("x_y", {"name": "C"}, False),
    ]


def test_a_campaign_row_locale_picks_the_variant(api, localized, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    created = api.post(
        "/api/v1/campaigns",
        {"name": "c", "template": "greeting", "audience": {"type": "file"}},
        format="json",
    ).json()
    text = "receiver,name,locale\na@example.com,A,zh-CN\nb@example.com,B,en-AU\nc@example.com,C,\n"
    uploaded = upload(api, created["id"], text)
    assert uploaded.status_code == 201, uploaded.content
    for step in ("submit", "start"):
        assert api.post(f"/api/v1/campaigns/{created['id']}/{step}").status_code == 200

    campaign_run_execute(CampaignRun.objects.get(campaign_id=created["id"]).pk)

    sent = dict(Message.objects.values_list("receiver", "locale"))
    assert sent == {"a@example.com": "zh-CN", "b@example.com": "en", "c@example.com": ""}


@pytest.mark.e2e
def test_each_user_gets_their_locale_through_a_real_worker(
    api,
    tenant,
    localized,
    start_worker,  # noqa: F811 - the fixture imported above
):
    profiles(tenant)
    start_worker("email.normal", concurrency=1)

    answer = api.post(
        "/api/v1/send",
        {"template": "greeting", "variables": {"name": "N"},
         "receivers": ["user:li", "user:ada", "user:jan"]},
        format="json",
    )  # fmt: skip

    assert answer.status_code == 202, answer.content
    assert wait_until(lambda: SandboxDelivery.objects.count() == 3, 30)
    received = {d.receiver: d.content["subject"] for d in SandboxDelivery.objects.all()}
    assert received == {
        "li@example.com": "你好 N",  # zh-CN variant
        "ada@example.com": "Hello N",  # en-GB falls back to en
        "jan@example.com": "Hallo N",  # nl: no variant, the default content
    }
    locales = dict(Message.objects.values_list("receiver", "locale"))
    assert locales == {"li@example.com": "zh-CN", "ada@example.com": "en", "jan@example.com": ""}
