"""The test broker, Redis or RabbitMQ (TIDINGS_TEST_BROKER=rabbitmq), behind one small
interface: `llen(queue)` and `flushdb()`, the two things tests ask of it.

On RabbitMQ a test run gets a vhost of its own (TIDINGS_TEST_RABBITMQ_URL's path), created
with `rabbitmqctl` before the first test and deleted after the last, so parallel runs and
other users of the server never see each other's queues."""

from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings

from notify.brokers import broker_kind, queue_depth, queues_purge
from notify.lanes import all_lanes

# Native delayed delivery's queues (RabbitMQ quorum mode): countdowns wait there.
DELAYED_QUEUES = [f"celery_delayed_{level}" for level in range(28)]


class AmqpBroker:
    """RabbitMQ seen as the Redis client the tests were written against."""

    def llen(self, queue: str) -> int:
        return queue_depth(queue) or 0

    def flushdb(self) -> None:
        queues_purge(
            [
                *all_lanes(),
                settings.TIDINGS_HOUSEKEEPING_QUEUE,
                settings.TIDINGS_CAMPAIGN_QUEUE,
                *DELAYED_QUEUES,
            ]
        )


def broker_client():
    if broker_kind() == "redis":
        return redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return AmqpBroker()


def rabbitmq_vhost() -> str:
    return unquote(urlsplit(settings.CELERY_BROKER_URL).path.lstrip("/")) or "/"


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )


def rabbitmq_vhost_create() -> str | None:
    """Create the run's vhost; returns an error text (None when ready)."""
    vhost = rabbitmq_vhost()
    if vhost == "/":
        return None
    if shutil.which("rabbitmqctl") is None:
        return (
            "rabbitmqctl is not installed: create the vhost by hand"
            if os.environ.get("CI")
            else None
        )
    listing = _rabbitmqctl("list_vhosts", "name")
    if listing.returncode != 0:
        return f"rabbitmqctl list_vhosts failed: {listing.stderr.strip() or listing.stdout}"
    if vhost not in listing.stdout.split():
        created = _rabbitmqctl("add_vhost", vhost)
        if created.returncode != 0:
            return f"rabbitmqctl add_vhost failed: {created.stderr.strip()}"
    user = urlsplit(settings.CELERY_BROKER_URL).username or "guest"
    granted = _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    if granted.returncode != 0:
        return f"rabbitmqctl set_permissions failed: {granted.stderr.strip()}"
    return None


def rabbitmq_vhost_delete() -> None:
    vhost = rabbitmq_vhost()
    if vhost != "/" and shutil.which("rabbitmqctl"):
        _rabbitmqctl("delete_vhost", vhost)
