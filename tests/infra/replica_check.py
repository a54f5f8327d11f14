"""Run by test_replica.py in a subprocess whose DATABASE_URL and DATABASE_REPLICA_URL name a
private primary and its streaming replica (tests/pg_replica.py). Exits non-zero on failure."""

from __future__ import annotations

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from channels_app.models import ChannelAccount  # noqa: E402
from notify.services import app_create  # noqa: E402
from templates_app.models import MessageTemplate  # noqa: E402
from tests.pg_replica import ReplicaPair, replay_pause  # noqa: E402
from tracking.models import Message  # noqa: E402


def _send(client: Client, headers: dict[str, str], receiver: str) -> str:
    response = client.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": [receiver], "variables": {"name": "Ada"}},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 202, response.content
    return response.json()["messages"][0]["message_id"]


def _on_replica(message_id: str) -> bool:
    return Message.objects.using("replica").filter(message_id=message_id).exists()


def _tables(queries: CaptureQueriesContext) -> str:
    return " ".join(q["sql"] for q in queries.captured_queries)


def main() -> None:
    pair = ReplicaPair(int(sys.argv[1]), int(sys.argv[2]))
    call_command("migrate", verbosity=0)
    app, key = app_create("replica-check")
    ChannelAccount.objects.create(app=app, name="sandbox", channel="email", provider="sandbox")
    MessageTemplate.objects.create(
        app=app, name="Welcome", code="welcome", channel="email", receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Hello {$name}"},
    )  # fmt: skip
    client, headers = Client(), {"Authorization": f"Api-Key {key}"}

    # given a message that has reached the replica
    message_id = _send(client, headers, "ada@example.com")
    deadline = time.monotonic() + 30
    while not _on_replica(message_id):
        assert time.monotonic() < deadline, "the message never reached the replica"
        time.sleep(0.1)

    # when its trace, the receiver lookup and the stats are read
    for path in (
        f"/api/v1/messages/{message_id}",
        "/api/v1/receivers/ada@example.com/messages",
        "/api/v1/stats",
    ):
        with (
            CaptureQueriesContext(connections["replica"]) as replica,
            CaptureQueriesContext(connections["default"]) as primary,
        ):
            response = client.get(path, headers=headers)
        # then the replica answered them, and the primary served only the API key
        assert response.status_code == 200, (path, response.content)
        assert "tracking_" in _tables(replica), (path, _tables(replica))
        assert "tracking_" not in _tables(primary), (path, _tables(primary))

    # given replication paused, a message only the primary has
    replay_pause(pair, True)
    try:
        fresh = _send(client, headers, "bob@example.com")
        assert not _on_replica(fresh)
        # when its trace is read, then the primary answers for the lagging replica
        response = client.get(f"/api/v1/messages/{fresh}", headers=headers)
        assert response.status_code == 200, response.content
        assert response.json()["message_id"] == fresh
    finally:
        replay_pause(pair, False)
    print("replica reads OK")  # noqa: T201


if __name__ == "__main__":
    main()
