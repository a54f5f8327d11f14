from __future__ import annotations

from django.utils import timezone

from tracking.models import Message
from tracking.services import messages_advance


def test_receipts_only_move_messages_forward(api, email_template):
    response = api.post(
        "/api/v1/send",
        {
            "template": "welcome",
            "receivers": ["a@example.com", "b@example.com"],
            "variables": {"name": "n", "code": "1"},
        },
        format="json",
    )
    first, second = Message.objects.order_by("id")
    Message.objects.update(state="SENT")
    now = timezone.now()

    assert messages_advance([first.pk], "READ", now, "opened") == [first.pk]
    assert messages_advance([first.pk, second.pk], "DELIVERED", now, "receipt") == [
        second.pk
    ]  # late receipt ignored for first
    assert messages_advance([second.pk], "DELIVERED", now) == []  # duplicate receipt

    assert response.status_code == 202
    assert Message.objects.get(pk=first.pk).state == "READ"
    # ACCEPTED and QUEUED (it was published on its lane) are derived from the row.
    assert [e.state for e in Message.objects.get(pk=second.pk).trace_events()] == [
        "ACCEPTED",
        "QUEUED",
        "DELIVERED",
    ]
