from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        # django-anymail reports email tracking events only through its signal.
        from anymail.signals import tracking

        from tracking.receipts.anymail import on_tracking

        tracking.connect(on_tracking, dispatch_uid="tidings-anymail-tracking")
