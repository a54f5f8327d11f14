"""The channel field for API serializers: any channel of the registry, read each time a
serializer is built, so a provider's new channel needs no edit here (and no migration)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from channels_app.providers.registry import channel_choices


class ChannelField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any):
        # DRF re-runs __init__ with the original kwargs for every serializer instance
        # (Field.__deepcopy__), so the choices follow the registry.
        super().__init__(choices=channel_choices(), **kwargs)
