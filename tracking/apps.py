from anymail.signals import tracking
from django.apps import AppConfig
from django.db.models import Field
from django.db.models.signals import post_delete, post_save

from config.lookups import AnyOf


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        # Imported in ready(), as Django documents for signal receivers: these modules
        # define or query models, which cannot load before the app registry is ready.
        from tracking.models import CallbackEndpoint
        from tracking.receipts.anymail import on_tracking
        from tracking.services import callback_endpoints_forget

        Field.register_lookup(AnyOf)  # `field__any=[...]`, see config.lookups

        # django-anymail reports email tracking events only through its signal.
        tracking.connect(on_tracking, dispatch_uid="tidings-anymail-tracking")

        # The per-process cache of callback endpoints forgets them when one changes here;
        # other processes pick the change up within its TTL.
        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: callback_endpoints_forget(),
                sender=CallbackEndpoint,
                weak=False,
                dispatch_uid=f"tidings-callback-endpoints-{signal is post_save}",
            )
