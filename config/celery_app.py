import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from config.logredact import RedactSecretsFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("tidings")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_celery_handlers(logger, **kwargs) -> None:
    """Celery's own handlers (task failures print their exception) mask credentials too."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())
