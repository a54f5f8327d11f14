from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Send API"

    def ready(self) -> None:
        # Imported for their side effects: the OpenAPI extensions, and the worker signal
        # hooks that keep `tidings doctor`'s per-queue worker heartbeat.
        from notify import heartbeat, schema  # noqa: F401
