from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from channels_app.breaker import breaker_health
from channels_app.channel_field import ChannelField
from channels_app.models import MAX_WEIGHT, ChannelAccount
from channels_app.providers.egress import validate_egress_url
from channels_app.providers.registry import PROVIDERS, get_adapter_class
from channels_app.secrets import url_mask, url_unmask
from channels_app.selectors import channel_account_list
from notify.authentication import request_app


class ChannelAccountSerializer(serializers.ModelSerializer):
    """`config` is write-only: the API answers which keys are set, never their values."""

    channel = ChannelField()
    provider = serializers.ChoiceField(choices=sorted(PROVIDERS))
    config = serializers.JSONField(write_only=True, required=False)
    config_keys = serializers.SerializerMethodField()
    # The column is a PostgreSQL integer: larger values were a 500 from the database.
    weight = serializers.IntegerField(min_value=1, max_value=MAX_WEIGHT, required=False)
    breaker = serializers.SerializerMethodField()

    class Meta:
        model = ChannelAccount
        fields = [
            "id", "name", "channel", "provider", "config", "config_keys", "base_url",
            "enabled", "weight", "type_weights", "max_in_flight", "breaker", "last_success_at",
            "last_failure_at", "last_error", "consecutive_failures", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "last_success_at", "last_failure_at", "last_error", "consecutive_failures",
            "created_at", "updated_at",
        ]  # fmt: skip

    def to_representation(self, instance: ChannelAccount) -> dict[str, Any]:
        data = super().to_representation(instance)
        # A token in a gateway URL's query is a credential: shown masked, like config.
        data["base_url"] = url_mask(data.get("base_url") or "")
        return data

    def get_config_keys(self, account: ChannelAccount) -> list[str]:
        return sorted(account.config)

    def get_breaker(self, account: ChannelAccount) -> dict:
        health = self.context.get("breakers", {}).get(account.pk)
        if health is None:
            health = breaker_health([account])[account.pk]
        return {"state": health.state, "failures": health.failures, "retry_in": health.retry_in}

    def validate_base_url(self, value: str) -> str:
        # The masked form sent back unchanged keeps the stored URL, which must pass the egress
        # policy like a new one.
        if self.instance is not None:
            value = url_unmask(value, self.instance.base_url)
        return validate_egress_url(value)

    def validate_name(self, value: str) -> str:
        app = self.context["request"].auth
        clash = ChannelAccount.objects.filter(app=app, name=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"an account named {value!r} already exists")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        provider = attrs.get("provider", getattr(self.instance, "provider", None))
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        adapter = get_adapter_class(provider)
        if channel not in adapter.channels:
            raise serializers.ValidationError(
                {"channel": f"provider {provider!r} does not send {channel!r}"}
            )
        config = attrs.get("config")
        if config is None and self.instance is None:
            config = {}
        if config is not None:
            if not isinstance(config, dict):
                raise serializers.ValidationError({"config": "must be a JSON object"})
            if self.partial and self.instance is not None:
                # A PATCH that leaves out a secret keeps the stored one.
                config = {**self.instance.config, **config}
            try:
                attrs["config"] = adapter.validate_config(config)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"config": exc.detail}) from None
        return attrs


class ChannelAccountViewSet(viewsets.ModelViewSet):
    serializer_class = ChannelAccountSerializer
    filterset_fields = ["channel", "provider", "enabled"]

    def get_queryset(self) -> QuerySet[ChannelAccount]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no App, only the model
            return ChannelAccount.objects.none()
        return channel_account_list(request_app(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._breakers = breaker_health(list(self.filter_queryset(self.get_queryset())))
        return super().list(request, *args, **kwargs)

    def get_serializer_context(self) -> dict[str, Any]:
        # The list reads every breaker in one Redis round trip.
        return {**super().get_serializer_context(), "breakers": getattr(self, "_breakers", {})}

    def perform_create(self, serializer: BaseSerializer[ChannelAccount]) -> None:
        serializer.save(app=request_app(self.request))
