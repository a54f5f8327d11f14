"""Click tracking only for links in the template itself (no open redirect through /t/), and
variables HTML-escaped in HTML content unless the template says {$var|raw}."""

from __future__ import annotations

import re

from django.test import Client

from templates_app.models import MessageTemplate
from templates_app.rendering import placeholders, render
from tracking.clicks import content_rewrite, template_link_pattern
from tracking.models import TrackedLink


def test_a_url_passed_in_a_variable_is_not_tracked(ding, send, settings):
    settings.TIDINGS_PUBLIC_URL = "https://tidings.example"
    MessageTemplate.objects.filter(code="ding").update(
        track_clicks=True,
        content={"msgtype": "text",
                 "content": "Hi {$name}, see https://example.com/a?x=1 and {$link}"},
    )  # fmt: skip
    send("ding", ["u1"], name="n", link="https://evil.example/phish")

    sent = ding.accepted[0]["msg"]["text"]["content"]
    link = TrackedLink.objects.get()  # one: the template's own link
    assert link.url == "https://example.com/a?x=1"
    assert (
        sent == f"Hi n, see https://tidings.example/t/{link.token} and https://evil.example/phish"
    )
    assert not TrackedLink.objects.filter(url__contains="evil").exists()
    assert Client().get(f"/t/{link.token}")["Location"] == "https://example.com/a?x=1"


def test_template_links_with_variables_after_the_host_are_tracked():
    pattern = template_link_pattern(
        {"html": '<a href="https://shop.example/o/{$order}?ref={$ref}">o</a>',
         "text": "{$url} https://{$host}/x https://shop.example{$path} https://ok.example"}
    )  # fmt: skip
    assert pattern.fullmatch("https://shop.example/o/42?ref=mail")
    assert pattern.fullmatch("https://ok.example")
    assert not pattern.fullmatch("https://evil.example/o/42")
    assert not pattern.fullmatch("https://shop.example.evil.example/x")  # host from a variable
    tokens = iter("ABCDEF")
    out, _ = content_rewrite(
        {"text": "https://shop.example/o/42?ref=m https://evil.example/"},
        lambda url: next(tokens), "https://t.example/t/", allowed=pattern,
    )  # fmt: skip
    assert out["text"] == "https://t.example/t/A https://evil.example/"


def test_variables_are_html_escaped_in_html_content_only():
    content = {"subject": "Hi {$name}", "text": "Hi {$name}",
               "html": "<p>Hi {$name}</p>{$banner|raw}"}  # fmt: skip
    variables = {"name": '<script>alert("x")</script>&', "banner": "<b>sale</b>"}

    out = render(content, variables)

    assert out["html"] == (
        "<p>Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;</p><b>sale</b>"
    )
    assert "<script>" not in out["html"]
    assert out["text"] == 'Hi <script>alert("x")</script>&'  # plain text stays as given
    assert out["subject"] == out["text"]
    assert placeholders(content) == {"name", "banner"}


def test_a_sent_html_email_carries_escaped_variables(api, tenant, sandbox_account):
    MessageTemplate.objects.create(
        app=tenant, name="w", code="w", channel="email", receiver_type="email",
        content={"subject": "Hi", "html": "<p>Hello {$name}</p>"},
    )  # fmt: skip
    response = api.post("/api/v1/send", {"template": "w", "receivers": ["a@example.com"],
                        "variables": {"name": "<script>x</script>"}}, format="json")  # fmt: skip
    assert response.status_code == 202, response.content
    message_id = response.json()["messages"][0]["message_id"]
    detail = api.get(f"/api/v1/messages/{message_id}").json()
    assert re.search(r"Hello &lt;script&gt;x&lt;/script&gt;", detail["content"]["html"])
