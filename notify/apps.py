from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Send API"

    def ready(self) -> None:
        from notify import schema  # noqa: F401 - registers the OpenAPI extensions
