"""Click tracking: links rewritten before sending, /t/<token> records CLICKED."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from notify.rules.base import RuleOutcome
from templates_app.models import MessageTemplate
from tracking.clicks import ClickTrackingRule, content_rewrite
from tracking.models import Message, TrackedLink


def test_rewrite_keeps_images_punctuation_and_tracked_links():
    tokens = iter(["A", "B", "C"])
    made = []

    def make(url):
        made.append(url)
        return next(tokens)

    content = {
        "html": '<a href="https://x.io/p?q=1">go</a> <img src="https://x.io/i.png">',
        "text": "See https://x.io/a. Or https://t.example/t/old",
        "pic_url": "https://x.io/pic.png",
    }
    out, changed = content_rewrite(content, make, "https://t.example/t/")

    assert changed
    assert out["html"] == '<a href="https://t.example/t/A">go</a> <img src="https://x.io/i.png">'
    assert out["text"] == "See https://t.example/t/B. Or https://t.example/t/old"
    assert out["pic_url"] == content["pic_url"]
    assert made == ["https://x.io/p?q=1", "https://x.io/a"]


def test_rewrite_leaves_email_headers_alone():
    # The preferences rule puts the signed unsubscribe URL in List-Unsubscribe before click
    # tracking runs; a /t/ link there would break one-click unsubscribing.
    header = "<https://push.example/api/v1/u/signed>"
    content = {"text": "See https://x.io/a", "headers": {"List-Unsubscribe": header}}
    out, changed = content_rewrite(content, lambda url: "T", "https://push.example/t/")

    assert changed
    assert out["text"] == "See https://push.example/t/T"
    assert out["headers"] == {"List-Unsubscribe": header}


def test_tracked_template_links_redirect_and_record_clicked(api, ding, send, settings):
    settings.TIDINGS_PUBLIC_URL = "https://tidings.example"
    MessageTemplate.objects.filter(code="ding").update(track_clicks=True)
    message_id = send("ding", ["u1"])[0]
    sent_text = ding.accepted[0]["msg"]["text"]["content"]
    link = TrackedLink.objects.get()
    assert sent_text == f"Hi n, see https://tidings.example/t/{link.token}."

    client = Client()
    first = client.get(f"/t/{link.token}")
    second = client.get(f"/t/{link.token}")

    assert first.status_code == 302 and first["Location"] == "https://example.com/a?x=1"
    assert second.status_code == 302
    message = Message.objects.get(message_id=message_id)
    assert message.state == "CLICKED"
    assert message.events.filter(state="CLICKED").count() == 1  # forward-only
    link.refresh_from_db()
    assert link.clicks == 2
    assert client.get("/t/unknown").status_code == 404


def test_rule_is_idempotent_across_retries_and_skips_untracked(ding, tenant, send):
    MessageTemplate.objects.filter(code="ding").update(track_clicks=True)
    ids = send("ding", ["u1"], deliver=False)
    message = Message.objects.get(message_id=ids[0])
    rule = ClickTrackingRule()

    rule.apply([message], timezone.now(), RuleOutcome())
    again = Message.objects.get(pk=message.pk)
    rule.apply([again], timezone.now(), RuleOutcome())

    assert TrackedLink.objects.count() == 1
    assert again.content == message.content

    MessageTemplate.objects.filter(code="ding").update(track_clicks=False)
    plain = Message.objects.get(message_id=send("ding", ["u2"], deliver=False)[0])
    rule.apply([plain], timezone.now(), RuleOutcome())
    assert "example.com" in plain.content["content"]


def test_track_clicks_is_a_template_api_field(api, ding):
    response = api.get("/api/v1/templates")
    assert response.status_code == 200
    rows = response.json()["results"] if isinstance(response.json(), dict) else response.json()
    assert rows[0]["track_clicks"] is False
    template_id = rows[0]["id"]
    patched = api.patch(f"/api/v1/templates/{template_id}", {"track_clicks": True}, format="json")
    assert patched.status_code == 200, patched.json()
    assert MessageTemplate.objects.get(pk=template_id).track_clicks is True
