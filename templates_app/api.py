from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from channels_app.channel_field import ChannelField
from channels_app.media_files import media_file_of_app
from channels_app.models import ChannelAccount
from notify.errors import ApiError
from templates_app.checks import content_problems, provider_problems, routed_providers
from templates_app.locales import TAG_HELP, locale_canonical, locales_problems
from templates_app.models import MessageTemplate, TemplateStatus, TemplateVersion
from templates_app.preview import template_preview
from templates_app.review import (
    ReviewError,
    actor_of,
    pending_version,
    version_approve,
    version_reject,
    version_submit,
)
from templates_app.selectors import template_list

# A template is stored once but rendered into every message: keep it to a sane size.
MAX_CONTENT_BYTES = 256 * 1024


def json_size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


class TemplateVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = TemplateVersion
        fields = [
            "number", "status", "content", "submitted_by", "submitted_at", "reviewed_by",
            "reviewed_at", "note",
        ]  # fmt: skip


class MessageTemplateSerializer(serializers.ModelSerializer):
    channel = ChannelField()
    channel_account = serializers.PrimaryKeyRelatedField(
        queryset=ChannelAccount.objects.none(), required=False, allow_null=True
    )
    locales = serializers.DictField(
        required=False,
        help_text="Content variants by BCP 47 language tag (zh-CN, en, en-GB, …), each a "
        "content object of the template's channel, e.g. "
        '{"zh-CN": {"subject": "你好 {$name}", "text": "…"}, "en": {"subject": "Hi {$name}", '
        '"text": "…"}}. A receiver\'s locale (the send\'s `locale`, else their profile\'s) picks '
        "the variant: en-GB tries en-GB, then en, then falls back to `content`.",
    )
    pending_version = serializers.SerializerMethodField(
        help_text="A content change waiting for review (Apps with require_template_review); "
        "the template keeps sending `content` until it is approved."
    )

    class Meta:
        model = MessageTemplate
        fields = [
            "id", "name", "code", "austin_id", "channel", "message_type", "receiver_type",
            "content", "locales", "default_priority", "channel_account", "status",
            "track_clicks", "pending_version", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        app = self.context["request"].auth
        self.fields["channel_account"].queryset = ChannelAccount.objects.filter(app=app)

    def get_pending_version(self, template: MessageTemplate) -> dict | None:
        version = pending_version(template)
        return TemplateVersionSerializer(version).data if version else None

    def validate_code(self, value: str) -> str:
        app = self.context["request"].auth
        clash = MessageTemplate.objects.filter(app=app, code=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"a template with code {value!r} already exists")
        return value

    def validate_austin_id(self, value: int | None) -> int | None:
        if value is None:
            return value
        app = self.context["request"].auth
        clash = MessageTemplate.objects.filter(app=app, austin_id=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                f"template {clash.first().code!r} has austin_id {value}"
            )
        return value

    def validate_content(self, value):
        if not isinstance(value, dict) or not value:
            raise serializers.ValidationError("must be a non-empty JSON object")
        if json_size(value) > MAX_CONTENT_BYTES:
            raise serializers.ValidationError(f"at most {MAX_CONTENT_BYTES} bytes of JSON")
        return value

    def validate_status(self, value: str) -> str:
        app = self.context["request"].auth
        if not app.require_template_review or value in (
            TemplateStatus.DRAFT,
            TemplateStatus.DISABLED,
        ):
            return value
        current = getattr(self.instance, "status", None)
        # Re-enabling what was approved before is fine; activating unreviewed content is not.
        if value == TemplateStatus.ACTIVE and current == TemplateStatus.DISABLED:
            last = self.instance.versions.filter(status="approved").order_by("-number").first()
            if last is not None and last.content == self.instance.content:
                return value
        if value == current:
            return value
        raise serializers.ValidationError(
            "this App reviews templates: submit it (POST .../submit) and have somebody else "
            "approve it (POST .../approve)"
        )

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
        # Malformed placeholders and parts the channel needs: refused with or without an
        # account to send it.
        problems = content_problems(channel, content)
        if problems:
            raise serializers.ValidationError(problems)
        app = self.context["request"].auth
        media = content.get("media") if isinstance(content, dict) else None
        if isinstance(media, dict) and media.get("file") is not None:
            # Another App's file id must not be usable, even if guessed.
            if media_file_of_app(app.pk, str(media["file"])) is None:
                raise serializers.ValidationError(
                    {"content.media.file": "no such file: upload it with POST /api/v1/media"}
                )
        problems = provider_problems(routed_providers(app, channel, account), channel, content)
        if problems:
            raise serializers.ValidationError(problems)
        return self._validate_locales(attrs, channel, account)

    def _validate_locales(self, attrs, channel, account):
        if "locales" not in attrs and "channel" not in attrs:
            return attrs
        app = self.context["request"].auth
        current = getattr(self.instance, "locales", None) or {}
        locales = attrs.get("locales", current)
        if locales is None:
            locales = {}
        if not isinstance(locales, dict) or json_size(locales) > MAX_CONTENT_BYTES:
            raise serializers.ValidationError(
                {"locales": [f"an object of at most {MAX_CONTENT_BYTES} bytes of JSON"]}
            )
        providers = routed_providers(app, channel, account)
        cleaned, problems = locales_problems(channel, locales, providers)
        if problems:
            raise serializers.ValidationError(problems)
        # Reviewed Apps: locales are reviewed with the draft they belong to (submit/approve).
        status = attrs.get("status", getattr(self.instance, "status", None))
        reviewed = app.require_template_review and self.instance is not None
        if reviewed and status != TemplateStatus.DRAFT and cleaned != current:
            raise serializers.ValidationError(
                {"locales": ["this App reviews templates: change locales on a draft (status "
                             "draft), then submit it for review"]}
            )  # fmt: skip
        if "locales" in attrs:
            attrs["locales"] = cleaned
        return attrs


class PreviewInputSerializer(serializers.Serializer):
    variables = serializers.DictField(required=False, default=dict)
    content = serializers.JSONField(
        required=False, help_text="Preview this content instead of the saved one."
    )
    locale = serializers.CharField(
        required=False,
        max_length=35,
        help_text=f"Preview the variant a receiver with this locale gets ({TAG_HELP}); "
        "`locale` in the answer says which variant that is.",
    )

    def validate_locale(self, value: str) -> str:
        if locale_canonical(value) is None:
            raise serializers.ValidationError(f"not a language tag: give {TAG_HELP}")
        return value


class PreviewOutputSerializer(serializers.Serializer):
    template = serializers.CharField()
    channel = serializers.CharField()
    locale = serializers.CharField(
        help_text='The variant rendered: a key of the template\'s `locales`, or "" for `content`.'
    )
    providers = serializers.ListField(child=serializers.CharField())
    variables = serializers.ListField(child=serializers.CharField())
    rendered = serializers.DictField(help_text="The rendered content per channel.")
    problems = serializers.ListField(child=serializers.DictField())


class RejectInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class MessageTemplateViewSet(viewsets.ModelViewSet):
    serializer_class = MessageTemplateSerializer
    filterset_fields = ["channel", "status", "code"]

    def get_queryset(self):
        return template_list(self.request.auth)

    def perform_create(self, serializer):
        app = self.request.auth
        if app.require_template_review:
            # Reviewed Apps: a new template waits as a draft until submitted and approved.
            serializer.save(app=app, status=TemplateStatus.DRAFT)
        else:
            serializer.save(app=app)

    def perform_update(self, serializer):
        template = serializer.instance
        content = serializer.validated_data.get("content")
        if (
            template.app.require_template_review
            and template.status == TemplateStatus.ACTIVE
            and content is not None
            and content != template.content
        ):
            # The approved content keeps sending; the change waits for a second person.
            serializer.validated_data.pop("content")
            serializer.save()
            version_submit(template, actor_of(self.request), content)
            return
        serializer.save()

    def _review(self, operation):
        template = self.get_object()
        try:
            version = operation(template)
        except ReviewError as error:
            raise ApiError(
                str(error), code="review_conflict", status_code=error.status_code
            ) from None
        template.refresh_from_db()
        body = {
            "template": MessageTemplateSerializer(template, context={"request": self.request}).data,
            "version": TemplateVersionSerializer(version).data,
        }
        return Response(body)

    @extend_schema(request=None, responses={200: TemplateVersionSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit a draft for review (draft -> pending_review)."""
        return self._review(lambda t: version_submit(t, actor_of(request)))

    @extend_schema(request=None, responses={200: TemplateVersionSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve the pending version (four-eyes: not by its submitter); its content
        becomes the template's and the template is active."""
        return self._review(lambda t: version_approve(t, actor_of(request)))

    @extend_schema(request=RejectInputSerializer, responses={200: TemplateVersionSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject the pending version; the template keeps what it had."""
        params = RejectInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        note = params.validated_data["note"]
        return self._review(lambda t: version_reject(t, actor_of(request), note))

    @extend_schema(
        operation_id="templates_preview",
        request=PreviewInputSerializer,
        responses={200: PreviewOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """Render with sample variables; list every problem a send would hit."""
        params = PreviewInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        body = template_preview(
            self.get_object(), data["variables"], data.get("content"), data.get("locale")
        )
        return Response(body, status=status.HTTP_200_OK)
