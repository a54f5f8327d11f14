from config.multiproc import multiproc_setup

multiproc_setup()

from config.celery_app import app as celery_app  # noqa: E402 - after the metrics setup

__all__ = ("celery_app",)
