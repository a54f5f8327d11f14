"""The consumer's own row formats: the claim (notify.delivery.messages_claim) reads its rows
without Django's model loading (config.rows), and trace events are written as COPY text
(tracking.services.events_record). What they read and write must equal the ORM's."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from notify.delivery import _CLAIM_FIELDS, messages_claim
from tracking.models import Message, MessageEvent
from tracking.services import EventRow, events_record


def _send(api, receivers: list[str], variables: dict) -> list[int]:
    """The template "welcome" to these receivers through the API: their message pks."""
    body = {"template": "welcome", "receivers": receivers, "variables": variables}
    response = api.post("/api/v1/send", body, format="json")
    assert response.status_code == 202, response.content
    return sorted(Message.objects.values_list("pk", flat=True))


def test_claimed_messages_equal_what_the_orm_loads(api, broker, email_template):
    variables = {"name": "Zoë", "code": "1", "order": 123456789012345678901234567890, "n": 1.5}
    ids = _send(api, ["a@example.com", "b@example.com"], variables)
    expires = timezone.now() + timedelta(hours=1)
    Message.objects.filter(pk=ids[1]).update(expires_at=expires)
    loaded = {m.pk: m for m in Message.objects.only(*_CLAIM_FIELDS).filter(pk__in=ids)}

    claimed, _token = messages_claim(ids, timezone.now())

    assert [m.pk for m in claimed] == ids
    for message in claimed:
        orm = loaded[message.pk]
        for name in _CLAIM_FIELDS:
            if name == "state":  # the state it was claimed from
                continue
            value, expected = getattr(message, name), getattr(orm, name)
            assert value == expected, name
            assert type(value) is type(expected), name
        assert message.variables["order"] == 123456789012345678901234567890  # not a float
        assert message.created_at.utcoffset() == timedelta(0)
        # a loaded instance: saved as an update of its row, other fields read on access
        assert message._state.adding is False and message._state.db == connection.alias
        assert message.get_deferred_fields() == loaded[message.pk].get_deferred_fields()
        assert message.request_id == Message.objects.get(pk=message.pk).request_id
    assert claimed[1].expires_at == expires
    claimed[0].last_error = "x"
    claimed[0].save(update_fields=["last_error"])
    assert Message.objects.get(pk=ids[0]).last_error == "x"


def test_events_are_stored_as_written_whatever_their_detail(api, broker, email_template):
    [pk] = _send(api, ["a@example.com"], {"name": "x", "code": "1"})
    message = Message.objects.get(pk=pk)
    at = timezone.now().replace(microsecond=123456)
    details = ["tab\there", "line\nbreak\r", "back\\slash \\N", "", "你好 🙂", "\\"]
    rows = [
        EventRow(message.pk, "NOTED", at + timedelta(seconds=i % 2), d)
        for i, d in enumerate(details)
    ]

    events_record(rows, messages=[message])

    stored = MessageEvent.objects.filter(message_id=message.pk, state="NOTED").order_by("id")
    assert [(e.detail, e.at) for e in stored] == [(r.detail, r.at) for r in rows]
