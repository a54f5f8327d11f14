"""Status callbacks: outbox written with the events, drained as signed batches, retried."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from channels_app.providers.fakes_http import Reply
from channels_app.providers.webhook.adapter import sign
from tracking.callbacks import callbacks_drain
from tracking.models import CallbackDelivery, CallbackEndpoint, CallbackOutbox, Message


def _register(api, url, **extra):
    response = api.put("/api/v1/callback", {"url": url, "secret": "s" * 32, **extra}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_register_never_returns_the_secret_and_validates(api):
    body = _register(api, "https://caller.example/hook")
    assert "secret" not in body and body["url"] == "https://caller.example/hook"
    assert "secret" not in api.get("/api/v1/callback").json()
    bad = api.put("/api/v1/callback", {"url": "not a url", "secret": "short"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"url", "secret"}


def test_events_are_posted_signed_and_batched(api, ding, send, fake_http):
    _register(api, fake_http.url + "/hook")
    ids = send("ding", ["u1", "u2"])
    # only the states a caller acts on are queued (not ACCEPTED / QUEUED / SENDING)
    assert set(CallbackOutbox.objects.values_list("state", flat=True)) == {"SENT"}

    totals = callbacks_drain()

    assert totals == {"delivered": 2, "failed": 0, "posts": 1}
    (request,) = fake_http.requests
    expected = sign("s" * 32, request.headers["x-tidings-timestamp"], request.body)
    assert request.headers["x-tidings-signature"] == expected
    events = request.json["events"]
    assert sorted(e["message_id"] for e in events) == sorted(ids)
    assert {e["state"] for e in events} == {"SENT"}
    assert CallbackOutbox.objects.count() == 0
    assert CallbackDelivery.objects.get().ok


def test_failed_posts_back_off_and_are_logged(api, ding, send, fake_http, settings):
    settings.TIDINGS_CALLBACK_MAX_ATTEMPTS = 2
    fake_http.responder = lambda request: Reply(status=503, body={"busy": True})
    _register(api, fake_http.url + "/hook")
    send("ding", ["u1"])

    now = timezone.now()
    assert callbacks_drain(now) == {"delivered": 0, "failed": 1, "posts": 1}
    row = CallbackOutbox.objects.get()
    assert row.attempts == 1 and row.next_attempt_at > now and not row.dead
    assert callbacks_drain(now)["posts"] == 0  # not due yet
    callbacks_drain(now + timedelta(hours=2))
    row.refresh_from_db()
    assert row.dead and row.last_error == "HTTP 503"
    log = list(CallbackDelivery.objects.values_list("ok", "status_code"))
    assert log == [(False, 503), (False, 503)]


def test_apps_without_a_callback_url_queue_nothing(ding, send):
    send("ding", ["u1"])
    assert CallbackOutbox.objects.count() == 0
    assert Message.objects.get().state == "SENT"
    assert not CallbackEndpoint.objects.exists()
