import math
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class TidingsCelery(Celery):
    def send_task(self, name, args=None, kwargs=None, countdown=None, eta=None, **options):
        # RabbitMQ quorum queues: countdowns wait in the broker (native delayed delivery),
        # which counts whole seconds and refuses anything under one. Round up, so a task
        # never arrives before it is due and no worker holds it unacknowledged meanwhile.
        if countdown and countdown > 0 and self.conf.task_default_queue_type == "quorum":
            countdown = math.ceil(countdown)
        return super().send_task(name, args, kwargs, countdown=countdown, eta=eta, **options)


app = TidingsCelery("tidings")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
