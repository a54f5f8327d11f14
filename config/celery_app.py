import logging
import math
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from celery import Celery, bootsteps
from celery.result import AsyncResult
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
)
from celery.worker import WorkController
from click import Option
from django.db import close_old_connections

from config.logredact import RedactSecretsFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class TidingsCelery(Celery):
    # celery-types spells out every positional parameter of send_task; this override takes
    # the ones it needs and passes the rest through as keywords, as every caller does.
    def send_task(  # type: ignore[override]
        self,
        name: str,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        countdown: float | None = None,
        eta: datetime | None = None,
        **options: Any,
    ) -> AsyncResult[Any]:
        # RabbitMQ quorum queues: countdowns wait in the broker (native delayed delivery),
        # which counts whole seconds and refuses anything under one. Round up, so a task
        # never arrives before it is due and no worker holds it unacknowledged meanwhile.
        if countdown and countdown > 0 and self.conf.task_default_queue_type == "quorum":
            countdown = math.ceil(countdown)
        return super().send_task(name, args, kwargs, countdown=countdown, eta=eta, **options)


app = TidingsCelery("tidings")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_celery_handlers(logger: logging.Logger, **kwargs: Any) -> None:
    """Celery's own handlers (task failures print their exception) mask credentials too."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())


@task_prerun.connect
@task_postrun.connect
def _database_connections_tend(sender: Any = None, **kwargs: Any) -> None:
    """A task gets the connection lifecycle Django gives a request: a connection is kept
    across tasks for DJANGO_CONN_MAX_AGE, and one that is broken (PostgreSQL restarted, a
    query interrupted) is closed before a task can use it; CONN_HEALTH_CHECKS has the first
    query of each task check it. Celery's own Django fixup closes every connection around
    every task (celery 5.6+) unless CELERY_DB_REUSE_MAX is set, which the settings do: a new
    backend per task cost a fork, an authentication and cold catalog caches for every batch
    (docs/operations.md, "Database connections")."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run in the caller's process, perhaps inside its transaction: not ours
    close_old_connections()


class LaneGroups(bootsteps.Step):
    """`celery -A config worker --lanes high,campaigns`: consume the queues of these lane
    groups (notify/lanes.py), resolved from the provider registry when the worker starts,
    added to any `-Q` queues (`-X` does not apply to them)."""

    def __init__(self, worker: WorkController, lanes: str | None = None, **options: Any) -> None:
        super().__init__(worker, **options)
        if not lanes:
            return
        if lane_groups_resolver is None:
            raise RuntimeError("no lane-group resolver: the notify app is not installed")
        selected = list(worker.app.amqp.queues.consume_from or {})
        worker.setup_queues([*selected, *lane_groups_resolver(lanes)])


# Set by notify's AppConfig.ready() (notify/lanes.py resolves groups from the provider
# registry). This module sits below every app: it is imported while Django's settings load
# (config/__init__.py), so it cannot import one. The worker builds its steps after
# django.setup(), when the resolver is in place.
lane_groups_resolver: Callable[[str], list[str]] | None = None


def lane_groups_resolver_set(resolver: Callable[[str], list[str]]) -> None:
    global lane_groups_resolver
    lane_groups_resolver = resolver


app.user_options["worker"].add(
    Option(
        ["--lanes"],
        default=None,
        help="Lane groups to consume, comma-separated: high, normal, low, bulk, a channel "
        "name, housekeeping, campaigns, all (see notify/lanes.py).",
    )
)
app.steps["worker"].add(LaneGroups)
