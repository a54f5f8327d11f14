"""POST /api/v1/media (multipart `file`): a file for media messages, named by templates as
`content.media.file`; GET / DELETE /api/v1/media/<id>. Management scope, like templates."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.media_files import (
    MediaFileRefused,
    media_file_create,
    media_file_delete,
    media_file_of_app,
)
from channels_app.models import MediaFile
from notify.authentication import request_app
from notify.errors import ApiError, invalid


class MediaFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = MediaFile
        fields = ["id", "filename", "content_type", "size", "sha256", "created_at"]
        read_only_fields = fields


class MediaFileUploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="media_upload",
        request={
            "multipart/form-data": inline_serializer(
                "MediaUpload",
                {
                    "file": serializers.FileField(),
                    "filename": serializers.CharField(
                        required=False, help_text="Overrides the upload's own file name."
                    ),
                },
            )
        },
        responses={201: MediaFileSerializer},
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise invalid("file", "upload the file as the multipart field 'file'")
        try:
            media = media_file_create(
                request_app(request), upload, str(request.POST.get("filename") or "")
            )
        except MediaFileRefused as refused:
            raise invalid(refused.field, str(refused)) from None
        return Response(MediaFileSerializer(media).data, status=status.HTTP_201_CREATED)


class MediaFileDetailView(APIView):
    def _media(self, request: Request, pk: UUID) -> MediaFile:
        media = media_file_of_app(request_app(request).pk, str(pk))
        if media is None:
            raise ApiError("no such media file", code="not_found", status_code=404)
        return media

    @extend_schema(operation_id="media_retrieve", responses={200: MediaFileSerializer})
    def get(self, request: Request, pk: UUID) -> Response:
        return Response(MediaFileSerializer(self._media(request, pk)).data)

    @extend_schema(operation_id="media_delete", responses={204: None})
    def delete(self, request: Request, pk: UUID) -> Response:
        media_file_delete(self._media(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
