from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Send API"

    def ready(self) -> None:
        # Imported for their side effects: the OpenAPI extensions, and the worker signal
        # hooks that keep `tidings doctor`'s per-queue worker heartbeat and the lanes' progress
        # marks the sweeper reads.
        from notify import heartbeat, lane_progress, schema  # noqa: F401
