"""Templates: content checks that need no account, austin_id, review (four-eyes), preview,
and the admin page (channel select, pretty JSON, preview, send a test)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from notify.delivery import batch_deliver
from notify.models import RuleSettings
from notify.services import api_key_create
from templates_app.models import MessageTemplate
from tracking.models import Message

EMAIL = {"name": "Hi", "code": "hi", "channel": "email", "receiver_type": "email"}


def test_unclosed_placeholder_is_a_400_naming_the_field(api, sandbox_account):
    response = api.post(
        "/api/v1/templates/",
        {**EMAIL, "content": {"subject": "Hi", "text": "Hello {$name, welcome"}},
        format="json",
    )
    assert response.status_code == 400
    assert "unclosed" in response.json()["fields"]["content.text"][0]


def test_email_without_subject_is_refused_before_any_account_exists(api, tenant):
    response = api.post("/api/v1/templates/", {**EMAIL, "content": {"text": "x"}}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["content.subject"] == ["an email needs a subject"]


def test_austin_id_is_unique_per_app(api, sandbox_account):
    body = {**EMAIL, "austin_id": 1, "content": {"subject": "s", "text": "t"}}
    assert api.post("/api/v1/templates/", body, format="json").status_code == 201
    clash = api.post("/api/v1/templates/", {**body, "code": "other"}, format="json")
    assert clash.status_code == 400 and "austin_id" in clash.json()["fields"]


def test_preview_renders_and_lists_problems(api, email_template):
    response = api.post(
        f"/api/v1/templates/{email_template.pk}/preview",
        {"variables": {"name": "Ada"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["rendered"]["email"]["subject"] == "Hi Ada"
    assert body["rendered"]["email"]["text"] == "Hello Ada, code {$code}"
    assert {"field": "variables", "problem": "missing variables: code"} in body["problems"]
    broken = api.post(
        f"/api/v1/templates/{email_template.pk}/preview",
        {"variables": {}, "content": {"text": "x {$oops"}},
        format="json",
    ).json()
    fields = {p["field"] for p in broken["problems"]}
    assert {"content.subject", "content.text"} <= fields


@pytest.fixture
def reviewing(tenant, sandbox_account):
    tenant.require_template_review = True
    tenant.save()
    return tenant


def second_key_client(tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(tenant, name='reviewer')}")
    return client


def test_review_draft_submit_approve_by_somebody_else(api, reviewing):
    created = api.post(
        "/api/v1/templates/", {**EMAIL, "content": {"subject": "s", "text": "v1"}}, format="json"
    )
    assert created.status_code == 201 and created.json()["status"] == "draft"
    pk = created.json()["id"]
    # a draft does not send, and cannot be switched on without review
    send = api.post(
        "/api/v1/send", {"template": "hi", "receivers": ["a@example.com"]}, format="json"
    )
    assert send.status_code == 400
    assert (
        api.patch(f"/api/v1/templates/{pk}", {"status": "active"}, format="json").status_code == 400
    )

    assert (
        api.post(f"/api/v1/templates/{pk}/submit").json()["template"]["status"] == "pending_review"
    )
    # four-eyes: the submitter cannot approve
    own = api.post(f"/api/v1/templates/{pk}/approve")
    assert own.status_code == 403 and own.json()["error"] == "review_conflict"
    reviewer = second_key_client(reviewing)
    approved = reviewer.post(f"/api/v1/templates/{pk}/approve")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["template"]["status"] == "active"
    assert approved.json()["version"]["reviewed_by"].startswith("api-key ")
    assert approved.json()["version"]["submitted_by"] != approved.json()["version"]["reviewed_by"]


def test_change_to_active_content_waits_while_the_old_one_keeps_sending(api, reviewing):
    template = MessageTemplate.objects.create(
        app=reviewing, name="Hi", code="hi", channel="email", receiver_type="email",
        content={"subject": "s", "text": "old"},
    )  # fmt: skip
    changed = api.patch(
        f"/api/v1/templates/{template.pk}",
        {"content": {"subject": "s", "text": "new"}},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["content"]["text"] == "old"
    assert changed.json()["pending_version"]["content"]["text"] == "new"

    def sent_text() -> str:
        ids = api.post(
            "/api/v1/send", {"template": "hi", "receivers": ["a@example.com"]}, format="json"
        ).json()["messages"]
        message = Message.objects.get(message_id=ids[0]["message_id"])
        batch_deliver([message.pk])
        return message.content["text"]

    assert sent_text() == "old"
    second_key_client(reviewing).post(f"/api/v1/templates/{template.pk}/approve")
    assert sent_text() == "new"


def staff(name: str = "ops") -> Client:
    user = get_user_model().objects.create_superuser(name, f"{name}@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_admin_template_page_select_pretty_json_preview_and_test_send(api, tenant, email_template):
    email_template.content = {"subject": "你好 {$name}", "text": "Hello {$name}, code {$code}"}
    email_template.save()
    client = staff()
    page = client.get(f"/admin/templates_app/messagetemplate/{email_template.pk}/change/")
    html = page.content.decode()
    assert '<select name="channel"' in html
    assert '<select name="channel_account"' in html
    # one key per line, indented, CJK as is (not \u escapes)
    assert "\n  &quot;subject&quot;: &quot;你好 {$name}&quot;" in html
    assert "tidings-rendered" in html and "你好 &lt;name&gt;" in html
    assert "Send a test" in html

    # a broken content is refused by the form, naming the part
    form = {
        "app": tenant.pk, "name": "Welcome", "code": "welcome", "channel": "email",
        "message_type": "notice", "receiver_type": "email", "default_priority": "normal",
        "status": "active", "content": '{"text": "x {$name"}',
        "versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0,
    }  # fmt: skip
    refused = client.post(f"/admin/templates_app/messagetemplate/{email_template.pk}/change/", form)
    assert refused.status_code == 200
    assert "content.subject: an email needs a subject" in refused.content.decode()

    # send a test: only to a whitelisted receiver
    test_url = f"/admin/templates_app/messagetemplate/{email_template.pk}/test-send/"
    RuleSettings.objects.create(app=tenant, whitelist=["qa@example.com"])
    no = client.post(test_url, {"receiver": "ceo@example.com", "variables": "{}"})
    assert "whitelisted" in no.content.decode()
    yes = client.post(
        test_url, {"receiver": "qa@example.com", "variables": '{"name": "QA", "code": "1"}'}
    )
    assert yes.status_code == 302
    message = Message.objects.get(receiver="qa@example.com")
    assert message.content["subject"] == "你好 QA"


def test_admin_four_eyes(tenant, email_template):
    tenant.require_template_review = True
    tenant.save()
    email_template.status = "draft"
    email_template.save()
    alice, bob = staff("alice"), staff("bob")
    url = "/admin/templates_app/messagetemplate/"
    alice.post(url, {"action": "submit_for_review", "_selected_action": [email_template.pk]})
    alice.post(url, {"action": "approve_pending", "_selected_action": [email_template.pk]})
    email_template.refresh_from_db()
    assert email_template.status == "pending_review"
    bob.post(url, {"action": "approve_pending", "_selected_action": [email_template.pk]})
    email_template.refresh_from_db()
    assert email_template.status == "active"
    version = email_template.versions.get()
    assert (version.submitted_by, version.reviewed_by) == ("staff alice", "staff bob")


def test_admin_shows_the_pending_version_next_to_the_sending_one(tenant, email_template):
    tenant.require_template_review = True
    tenant.save()
    from templates_app.review import version_submit

    version_submit(email_template, "staff alice", {"subject": "New {$name}", "text": "t"})
    html = staff().get(f"/admin/templates_app/messagetemplate/{email_template.pk}/change/")
    page = html.content.decode()
    assert "Version 1 waits for review (submitted by staff alice)" in page
    assert "New &lt;name&gt;" in page and "Hi &lt;name&gt;" in page
