from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        # django-anymail reports email tracking events only through its signal.
        from anymail.signals import tracking

        from tracking.receipts.anymail import on_tracking

        tracking.connect(on_tracking, dispatch_uid="tidings-anymail-tracking")

        # The per-process cache of callback endpoints forgets them when one changes here;
        # other processes pick the change up within its TTL.
        from django.db.models.signals import post_delete, post_save

        from tracking.models import CallbackEndpoint
        from tracking.services import callback_endpoints_forget

        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: callback_endpoints_forget(),
                sender=CallbackEndpoint,
                weak=False,
                dispatch_uid=f"tidings-callback-endpoints-{signal is post_save}",
            )
