"""DRF API for rule settings, template overrides, sensitive words, flow limits, profiles,
preferences and opt-outs (under /api/v1/), plus the public signed unsubscribe endpoint."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core import signing
from django.db import IntegrityError
from django.http import HttpResponse
from django.utils.html import escape
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.channel_field import ChannelField
from channels_app.models import ChannelAccount
from channels_app.providers.registry import registered_channels
from notify.errors import invalid
from notify.models import FlowLimit, OptOut, RuleSettings, SensitiveWord, TemplateRule, UserProfile
from notify.profiles import (
    OptOutNotAllowed,
    opt_out_add,
    profile_opt_outs,
    profile_preferences_set,
    profile_upsert,
    unsubscribe,
    unsubscribe_read,
)
from notify.rules.config import rule_config_clear
from notify.rules.services import rule_settings_get, rule_settings_update
from templates_app.locales import TAG_HELP, locale_canonical
from templates_app.models import MessageTemplate, MessageType


def _time_zone(value: str) -> str:
    if not value:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise serializers.ValidationError(f"unknown time zone {value!r}") from None
    return value


# --- rule settings --------------------------------------------------------------------------


class RuleSettingsSerializer(serializers.ModelSerializer):
    discarded_channels = serializers.ListField(child=ChannelField(), required=False)
    whitelist = serializers.ListField(
        child=serializers.CharField(max_length=320), required=False, max_length=10_000
    )
    frequency_caps = serializers.DictField(
        child=serializers.IntegerField(min_value=0), required=False
    )
    time_zone = serializers.CharField(max_length=64, validators=[_time_zone], required=False)

    class Meta:
        model = RuleSettings
        exclude = ["id", "app"]
        read_only_fields = ["updated_at"]

    def validate_frequency_caps(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(registered_channels()))
        if unknown:
            raise serializers.ValidationError(f"unknown channel(s): {', '.join(unknown)}")
        return value


class RuleSettingsView(APIView):
    """GET the App's rule settings; PUT/PATCH change them (workers follow within seconds)."""

    serializer_class = RuleSettingsSerializer

    def get(self, request):
        return Response(RuleSettingsSerializer(rule_settings_get(request.auth)).data)

    def put(self, request):
        return self._update(request, partial=False)

    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        row = rule_settings_get(request.auth)
        serializer = RuleSettingsSerializer(row, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        row = rule_settings_update(request.auth, serializer.validated_data)
        return Response(RuleSettingsSerializer(row).data)


class _ClearsRuleCache:
    """Writes through these views reach this process's rule cache at once."""

    def perform_create(self, serializer):
        serializer.save(**self.save_kwargs())
        rule_config_clear(self.request.auth.pk)

    def perform_update(self, serializer):
        serializer.save()
        rule_config_clear(self.request.auth.pk)

    def perform_destroy(self, instance):
        instance.delete()
        rule_config_clear(self.request.auth.pk)

    def save_kwargs(self) -> dict:
        return {}


class TemplateRuleSerializer(serializers.ModelSerializer):
    template = serializers.PrimaryKeyRelatedField(queryset=MessageTemplate.objects.none())

    class Meta:
        model = TemplateRule
        fields = [
            "id", "template", "discarded", "night_mode", "sensitive_mode",
            "dedup_window_seconds", "dedup_max", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        app = self.context["request"].auth
        self.fields["template"].queryset = MessageTemplate.objects.filter(app=app)

    def validate_template(self, value: MessageTemplate) -> MessageTemplate:
        clash = TemplateRule.objects.filter(template=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("this template already has rules: update them")
        return value


class TemplateRuleViewSet(_ClearsRuleCache, viewsets.ModelViewSet):
    serializer_class = TemplateRuleSerializer
    filterset_fields = ["template"]

    def get_queryset(self):
        return TemplateRule.objects.filter(template__app=self.request.auth).order_by("id")


class SensitiveWordSerializer(serializers.ModelSerializer):
    class Meta:
        model = SensitiveWord
        fields = ["id", "word", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_word(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("must not be blank")
        app = self.context["request"].auth
        if SensitiveWord.objects.filter(app=app, word__iexact=value).exists():
            raise serializers.ValidationError(f"{value!r} is already in the dictionary")
        return value


class SensitiveWordViewSet(
    _ClearsRuleCache,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = SensitiveWordSerializer

    def get_queryset(self):
        return SensitiveWord.objects.filter(app=self.request.auth).order_by("word")

    def save_kwargs(self) -> dict:
        return {"app": self.request.auth}


class FlowLimitSerializer(serializers.ModelSerializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.none())
    rate_per_second = serializers.FloatField(min_value=0.001, max_value=1_000_000)
    burst = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)

    class Meta:
        model = FlowLimit
        fields = ["id", "account", "rate_per_second", "burst", "count_by", "enabled", "updated_at"]
        read_only_fields = ["id", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        app = self.context["request"].auth
        self.fields["account"].queryset = ChannelAccount.objects.filter(app=app)

    def validate_account(self, value: ChannelAccount) -> ChannelAccount:
        clash = FlowLimit.objects.filter(account=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("this account already has a flow limit")
        return value


class FlowLimitViewSet(_ClearsRuleCache, viewsets.ModelViewSet):
    serializer_class = FlowLimitSerializer

    def get_queryset(self):
        return FlowLimit.objects.filter(account__app=self.request.auth).order_by("id")


# --- profiles and preferences ---------------------------------------------------------------


class ProfileSerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField(
        max_length=64, validators=[_time_zone], required=False, allow_blank=True
    )
    channel_ids = serializers.DictField(child=serializers.CharField(max_length=512), required=False)

    def validate_channel_ids(self, value: dict) -> dict:
        if len(value) > 100 or any(len(key) > 64 for key in value):
            raise serializers.ValidationError("at most 100 ids, keys of at most 64 characters")
        return value

    class Meta:
        model = UserProfile
        fields = [
            "external_id", "email", "phone", "wechat_open_id", "wechat_mp_open_id",
            "wecom_user_id", "dingtalk_user_id", "feishu_user_id", "push_token", "channel_ids",
            "time_zone", "locale", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        # Upsert by external id: the uniqueness is handled by profile_upsert.
        extra_kwargs = {"external_id": {"validators": []}}

    def validate_locale(self, value: str) -> str:
        if not value:
            return value
        canonical = locale_canonical(value)
        if canonical is None:
            raise serializers.ValidationError(f"not a language tag: give {TAG_HELP}")
        return canonical

    def validate_email(self, value: str) -> str:
        if value and "@" not in value:
            raise serializers.ValidationError("not an email address")
        return value


class PreferenceSerializer(serializers.Serializer):
    channel = ChannelField()
    message_type = serializers.ChoiceField(choices=MessageType.choices)


class PreferencesSerializer(serializers.Serializer):
    opt_outs = PreferenceSerializer(many=True)


class PreferencesOutputSerializer(PreferencesSerializer):
    external_id = serializers.CharField()


class ProfileViewSet(viewsets.ModelViewSet):
    """POST upserts by `external_id`; the rest address a profile by its external id."""

    serializer_class = ProfileSerializer
    lookup_field = "external_id"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["email", "phone"]

    def get_queryset(self):
        return UserProfile.objects.filter(app=self.request.auth).order_by("id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        external_id = fields.pop("external_id")
        profile, created = profile_upsert(request.auth, external_id, fields)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(profile).data, status=code)

    def perform_update(self, serializer):
        fields = dict(serializer.validated_data)
        fields.pop("external_id", None)  # the id is the URL's
        profile_upsert(self.request.auth, serializer.instance.external_id, fields)

    @extend_schema(methods=["GET"], request=None, responses={200: PreferencesOutputSerializer})
    @extend_schema(
        methods=["PUT"],
        request=PreferencesSerializer,
        responses={200: PreferencesOutputSerializer},
    )
    @action(detail=True, methods=["get", "put"])
    def preferences(self, request, external_id=None):
        profile = self.get_object()
        if request.method == "PUT":
            serializer = PreferencesSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            wanted = [
                (p["channel"], p["message_type"]) for p in serializer.validated_data["opt_outs"]
            ]
            try:
                profile_preferences_set(profile, wanted)
            except OptOutNotAllowed as exc:
                raise invalid("opt_outs", str(exc)) from None
        return Response({"external_id": profile.external_id, "opt_outs": profile_opt_outs(profile)})


class OptOutSerializer(serializers.ModelSerializer):
    channel = ChannelField()
    message_type = serializers.ChoiceField(choices=MessageType.choices)

    class Meta:
        model = OptOut
        fields = ["id", "channel", "receiver", "message_type", "source", "created_at"]
        read_only_fields = ["id", "source", "created_at"]
        validators: list = []

    def validate_message_type(self, value: str) -> str:
        if value == MessageType.VERIFICATION:
            raise serializers.ValidationError("verification codes cannot be opted out of")
        return value


class OptOutViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Opt-outs by receiver address (for receivers without a profile, or audits)."""

    serializer_class = OptOutSerializer
    filterset_fields = ["channel", "receiver", "message_type"]

    def get_queryset(self):
        return OptOut.objects.filter(app=self.request.auth).order_by("id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            opt_out = opt_out_add(request.auth, **serializer.validated_data)
        except (OptOutNotAllowed, IntegrityError) as exc:
            raise invalid("message_type", str(exc)) from None
        return Response(self.get_serializer(opt_out).data, status=status.HTTP_201_CREATED)


# --- public unsubscribe ---------------------------------------------------------------------

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto">{body}</body></html>"""


class UnsubscribeView(APIView):
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST
    unsubscribes: the button, or a mail client's RFC 8058 one-click request."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        summary="Unsubscribe confirmation page",
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, "A page asking to confirm."),
            (400, "text/html"): OpenApiResponse(OpenApiTypes.STR, "The link is not valid."),
        },
    )
    def get(self, request, token: str):
        try:
            data = unsubscribe_read(token)
        except signing.BadSignature:
            return HttpResponse(_PAGE.format(body="<p>This link is not valid.</p>"), status=400)
        body = (
            f"<p>Stop {escape(data['t'])} messages by {escape(data['c'])} "
            f"to <b>{escape(data['r'])}</b>?</p>"
            '<form method="post"><button type="submit">Unsubscribe</button></form>'
        )
        return HttpResponse(_PAGE.format(body=body))

    @extend_schema(
        summary="Unsubscribe (the page's button, or RFC 8058 one-click)",
        request=None,
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, "Unsubscribed."),
            (400, "text/html"): OpenApiResponse(OpenApiTypes.STR, "The link is not valid."),
        },
    )
    def post(self, request, token: str):
        try:
            opt_out = unsubscribe(token)
        except (signing.BadSignature, OptOutNotAllowed):
            return HttpResponse(_PAGE.format(body="<p>This link is not valid.</p>"), status=400)
        body = (
            f"<p>Done: no more {escape(opt_out.message_type)} messages by "
            f"{escape(opt_out.channel)} to <b>{escape(opt_out.receiver)}</b>.</p>"
        )
        return HttpResponse(_PAGE.format(body=body))
