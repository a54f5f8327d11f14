from django.apps import AppConfig

from channels_app.providers.egress import egress_allowlist


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = "Channels"

    def ready(self) -> None:
        # A malformed TIDINGS_EGRESS_ALLOWLIST stops every process at start-up, not at the
        # first send (ImproperlyConfigured).
        egress_allowlist()
