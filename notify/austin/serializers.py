"""austin's request and response shapes, for the OpenAPI schema (tag "austin"). Bodies are
read by hand in services.py so that each problem gets austin's own code."""

from __future__ import annotations

from rest_framework import serializers


class MessageParamSerializer(serializers.Serializer):
    bizId = serializers.CharField(required=False, help_text="Your reference; default messageId.")  # noqa: N815
    receiver = serializers.CharField(help_text="Receivers, comma-separated, at most 100.")
    variables = serializers.DictField(required=False, help_text="Values for {$placeholders}.")
    extra = serializers.DictField(required=False, allow_null=True, help_text="Accepted, unused.")


class SendRequestSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"send"')
    messageTemplateId = serializers.IntegerField(  # noqa: N815
        help_text="The template's austin_id, else its Tidings id."
    )
    messageParam = MessageParamSerializer()  # noqa: N815


class BatchSendRequestSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"send"')
    messageTemplateId = serializers.IntegerField()  # noqa: N815
    messageParamList = MessageParamSerializer(many=True)  # noqa: N815


class RecallRequestSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"recall"')
    messageTemplateId = serializers.IntegerField()  # noqa: N815
    recallMessageIds = serializers.ListField(  # noqa: N815
        child=serializers.CharField(),
        required=False,
        help_text="messageIds from /send; none: what the template sent in the last 24 hours.",
    )


class SimpleTaskInfoSerializer(serializers.Serializer):
    bizId = serializers.CharField()  # noqa: N815
    messageId = serializers.CharField(help_text="Tidings' message_id.")  # noqa: N815
    businessId = serializers.IntegerField()  # noqa: N815


class SendResponseSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"0" on success, else austin\'s code (A0001, …).')
    msg = serializers.CharField()
    # austin's wire format names the payload `data`, shadowing Serializer.data (unused here:
    # these serializers only describe the schema).
    data = SimpleTaskInfoSerializer(many=True, allow_null=True)  # type: ignore[assignment]


class TraceRequestSerializer(serializers.Serializer):
    messageId = serializers.CharField(required=False)  # noqa: N815
    receiver = serializers.CharField(required=False)
    businessId = serializers.CharField(required=False)  # noqa: N815


class TraceResponseSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"0" on success (austin\'s BasicResultVO).')
    msg = serializers.CharField()
    data = serializers.DictField(allow_null=True)  # type: ignore[assignment]  # as above
