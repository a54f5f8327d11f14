"""Broker-neutral helpers: the same code for Redis, RabbitMQ and `make run`'s filesystem
broker. Everything here goes through kombu (`app.connection_for_write()`), never a
transport's own client, so queue depths and purges mean the same on every broker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from config.celery_app import app

logger = logging.getLogger(__name__)


def broker_kind(url: str | None = None) -> str:
    """ "redis", "amqp" (RabbitMQ) or "filesystem" for a broker URL (default: the app's)."""
    scheme = urlsplit(url if url is not None else (app.conf.broker_url or "")).scheme
    if scheme in ("redis", "rediss", "redis+socket"):
        return "redis"
    if scheme in ("amqp", "amqps", "pyamqp"):
        return "amqp"
    return scheme or "memory"


def broker_ping(timeout: float, url: str | None = None) -> None:
    """Open a fresh connection and a channel (Redis: PING; RabbitMQ: the AMQP handshake);
    raises when the broker (default: the app's) is unreachable within `timeout` seconds."""
    options = dict(app.conf.broker_transport_options or {})
    if broker_kind(url) == "redis":
        options.update(socket_connect_timeout=timeout, socket_timeout=timeout)
    with app.connection_for_write(
        url, connect_timeout=timeout, transport_options=options
    ) as connection:
        connection.ensure_connection(max_retries=0)
        connection.default_channel  # noqa: B018 - a channel proves the server answers


def queue_depths(queues: Iterable[str]) -> dict[str, int]:
    """Messages ready in each queue (not those a worker holds unacknowledged), over one
    connection. Queues the broker does not know yet are left out. Raises when the broker
    is down."""
    depths: dict[str, int] = {}
    with app.connection_for_write() as connection:
        channel: Any = (
            connection.channel()
        )  # Any: kombu's stubs say StdChannel, which lacks queue_declare
        try:
            for queue in queues:
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except connection.channel_errors:
                    # RabbitMQ answers 404 and closes the channel: take a new one.
                    channel = connection.channel()
        finally:
            channel.close()
    return depths


def queue_depth(queue: str) -> int | None:
    """Messages ready in one queue, or None when the broker cannot tell (down, unknown
    queue, a transport without counts)."""
    try:
        return queue_depths([queue]).get(queue)
    except Exception:  # noqa: BLE001 - a broker down is "unknown", not an error here
        logger.debug("cannot read the depth of %s", queue, exc_info=True)
        return None


def queues_purge(queues: Iterable[str]) -> int:
    """Drop every ready message of these queues; returns how many were dropped."""
    dropped = 0
    with app.connection_for_write() as connection:
        channel: Any = (
            connection.channel()
        )  # Any: kombu's stubs say StdChannel, which lacks queue_declare
        try:
            for queue in queues:
                try:
                    dropped += channel.queue_purge(queue) or 0
                except connection.channel_errors:
                    channel = connection.channel()
        finally:
            channel.close()
    return dropped
