from __future__ import annotations

import json

from rest_framework import serializers, viewsets

from channels_app.channels import Channel
from channels_app.models import ChannelAccount
from channels_app.providers.registry import get_adapter_class
from templates_app.models import MessageTemplate
from templates_app.selectors import template_list

# A template is stored once but rendered into every message: keep it to a sane size.
MAX_CONTENT_BYTES = 256 * 1024


def json_size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


class MessageTemplateSerializer(serializers.ModelSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    channel_account = serializers.PrimaryKeyRelatedField(
        queryset=ChannelAccount.objects.none(), required=False, allow_null=True
    )

    class Meta:
        model = MessageTemplate
        fields = [
            "id", "name", "code", "channel", "message_type", "receiver_type", "content",
            "default_priority", "channel_account", "status", "track_clicks", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        app = self.context["request"].auth
        self.fields["channel_account"].queryset = ChannelAccount.objects.filter(app=app)

    def validate_code(self, value: str) -> str:
        app = self.context["request"].auth
        clash = MessageTemplate.objects.filter(app=app, code=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"a template with code {value!r} already exists")
        return value

    def validate_content(self, value):
        if not isinstance(value, dict) or not value:
            raise serializers.ValidationError("must be a non-empty JSON object")
        if json_size(value) > MAX_CONTENT_BYTES:
            raise serializers.ValidationError(f"at most {MAX_CONTENT_BYTES} bytes of JSON")
        return value

    def validate(self, attrs):
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        account = attrs.get("channel_account", getattr(self.instance, "channel_account", None))
        content = attrs.get("content", getattr(self.instance, "content", None))
        if account is not None and account.channel != channel:
            raise serializers.ValidationError(
                {
                    "channel_account": f"account {account.name!r} is for channel {account.channel!r}, not {channel!r}"
                }
            )
        if content is None:
            return attrs
        if account is not None:
            providers = [account.provider]
        else:
            # Routed: any of the App's enabled accounts for the channel may send it.
            app = self.context["request"].auth
            providers = sorted(
                set(
                    ChannelAccount.objects.filter(
                        app=app, channel=channel, enabled=True
                    ).values_list("provider", flat=True)
                )
            )
        for provider in providers:
            try:
                get_adapter_class(provider).validate_content(channel, content)
            except serializers.ValidationError as exc:
                if len(providers) == 1:
                    raise
                detail = exc.detail if isinstance(exc.detail, dict) else {"content": exc.detail}
                raise serializers.ValidationError(
                    {
                        key: [
                            f"{provider}: {msg}"
                            for msg in (value if isinstance(value, list) else [value])
                        ]
                        for key, value in detail.items()
                    }
                ) from None
        return attrs


class MessageTemplateViewSet(viewsets.ModelViewSet):
    serializer_class = MessageTemplateSerializer
    filterset_fields = ["channel", "status", "code"]

    def get_queryset(self):
        return template_list(self.request.auth)

    def perform_create(self, serializer):
        serializer.save(app=self.request.auth)
