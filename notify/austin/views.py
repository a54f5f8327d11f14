"""austin-compatible routes: thin views over notify.austin.services. Like austin they
answer HTTP 200 with the outcome in `code` (austin's SDKs and callers read `code`); only
a missing or wrong API key is an HTTP 401 (austin had no authentication)."""

from __future__ import annotations

import logging
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notify.austin import services
from notify.austin.codes import AustinError, Resp
from notify.austin.serializers import (
    BatchSendRequestSerializer,
    RecallRequestSerializer,
    SendRequestSerializer,
    SendResponseSerializer,
    TraceRequestSerializer,
    TraceResponseSerializer,
)
from notify.authentication import request_app
from notify.models import Scope

logger = logging.getLogger(__name__)


class AustinView(APIView):
    # austin's routes send, recall and read traces: what a `send`-scoped key may do.
    required_scope = Scope.SEND
    # The business code a body must carry on this route ("send" / "recall").
    business_code = ""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AustinError):
            return Response(exc.body())
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            body = {"code": Resp.NO_LOGIN.code, "msg": f"{Resp.NO_LOGIN.msg}: {exc.detail}",
                    "data": None}  # fmt: skip
            return Response(body, status=401, headers={"WWW-Authenticate": "Api-Key"})
        if isinstance(exc, exceptions.ParseError):
            return Response(AustinError(Resp.CLIENT_BAD_PARAMETERS, str(exc.detail)).body())
        if isinstance(exc, exceptions.APIException):
            return super().handle_exception(exc)
        logger.exception("austin route failed")
        return Response({"code": Resp.ERROR_500.code, "msg": Resp.ERROR_500.msg, "data": None})

    def body(self, request: Request) -> dict[str, Any]:
        data = request.data
        if not isinstance(data, dict) or not data:
            raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "the body must be a JSON object")
        code = data.get("code")
        if code is None:
            raise AustinError(Resp.BUSINESS_CODE_IS_NULL)
        if code not in ("send", "recall"):
            raise AustinError(Resp.PROCESS_TEMPLATE_IS_NULL, f"unknown code {code!r}")
        if code != self.business_code:
            raise AustinError(
                Resp.CLIENT_BAD_PARAMETERS,
                f"code {code!r} is not for this route ({self.business_code!r})",
            )
        return data

    def idempotency_key(self, request: Request) -> str | None:
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if len(key) > 200:
            raise AustinError(Resp.CLIENT_BAD_PARAMETERS, "Idempotency-Key: at most 200 characters")
        return key or None


class SendView(AustinView):
    business_code = "send"

    @extend_schema(
        tags=["austin"],
        operation_id="austin_send",
        request=SendRequestSerializer,
        responses={200: SendResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        """austin's /send: one messageParam (comma-separated receivers)."""
        data = self.body(request)
        param = data.get("messageParam")
        return Response(
            services.austin_send(
                request_app(request),
                data.get("messageTemplateId"),
                [param] if param is not None else None,
                self.idempotency_key(request),
            )
        )


class BatchSendView(AustinView):
    business_code = "send"

    @extend_schema(
        tags=["austin"],
        operation_id="austin_batch_send",
        request=BatchSendRequestSerializer,
        responses={200: SendResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        """austin's /batchSend: a messageParamList, each param with its own variables."""
        data = self.body(request)
        return Response(
            services.austin_send(
                request_app(request),
                data.get("messageTemplateId"),
                data.get("messageParamList"),
                self.idempotency_key(request),
            )
        )


class RecallView(AustinView):
    business_code = "recall"

    @extend_schema(
        tags=["austin"],
        operation_id="austin_recall",
        request=RecallRequestSerializer,
        responses={200: SendResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        """austin's /recall: withdraw by messageIds, else the template's recent messages."""
        data = self.body(request)
        return Response(
            services.austin_recall(
                request_app(request), data.get("messageTemplateId"), data.get("recallMessageIds")
            )
        )


class TraceView(AustinView):
    def data(self, request: Request) -> dict[str, Any]:
        return request.data if isinstance(request.data, dict) else {}


class TraceMessageView(TraceView):
    @extend_schema(
        tags=["austin"],
        operation_id="austin_trace_message",
        request=TraceRequestSerializer,
        responses={200: TraceResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        """A message's steps, austin's UserTimeLineVo (by messageId)."""
        return Response(
            services.trace_message(request_app(request), self.data(request).get("messageId"))
        )


class TraceUserView(TraceView):
    @extend_schema(
        tags=["austin"],
        operation_id="austin_trace_user",
        request=TraceRequestSerializer,
        responses={200: TraceResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        """Today's messages to a receiver, austin's UserTimeLineVo."""
        return Response(
            services.trace_user(request_app(request), self.data(request).get("receiver"))
        )


class TraceMessageTemplateView(TraceView):
    @extend_schema(
        tags=["austin"],
        operation_id="austin_trace_message_template",
        request=TraceRequestSerializer,
        responses={200: TraceResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        """A template's counts per step on a day, austin's EchartsVo (by businessId)."""
        return Response(
            services.trace_message_template(
                request_app(request), self.data(request).get("businessId")
            )
        )
