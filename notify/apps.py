from django.apps import AppConfig

from config.celery_app import lane_groups_resolver_set


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Send API"

    def ready(self) -> None:
        # Imported in ready(), as Django documents for signal receivers (these modules reach
        # models, which cannot load before the app registry is ready). heartbeat, lane_progress
        # and schema for their side effects: the worker signal hooks behind `tidings doctor`'s
        # per-queue heartbeat and the lanes' progress marks the sweeper reads, and the OpenAPI
        # extensions; preload for each pool process's warm-up before its first task; lanes
        # for the worker's --lanes.
        from notify import heartbeat, lane_progress, preload, schema  # noqa: F401
        from notify.lanes import resolve_lanes

        lane_groups_resolver_set(resolve_lanes)
