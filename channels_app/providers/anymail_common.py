"""Shared by the ESP email adapters (SES, SendGrid, Mailgun), all sent through django-anymail.

Each adapter names an anymail backend and turns its account config into the backend's
kwargs; this module builds the messages, sends them one by one over one connection per
batch, and turns anymail/botocore exceptions into DeliveryErrors.

Receipts: every message carries `X-Tidings-Message-Id` and the anymail metadata
`tidings_message_id` (SendGrid custom_args, Mailgun `v:` variables, SES `X-Metadata`
header plus the SES message tag of the same name), and the provider id stored is
`anymail_status.message_id`, which anymail's tracking webhooks report as `message_id`.
"""

from __future__ import annotations

import warnings
from email.utils import parseaddr
from typing import Any, ClassVar

import requests
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailNotSupportedWarning,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.attachments import (
    Attachment,
    attach_from_content,
    validate_attachments,
)
from channels_app.providers.base import (
    DeliveryError,
    OutboundMessage,
    ProviderAdapter,
    ResourcePool,
    SendResult,
    excerpt,
)
from channels_app.providers.egress import (
    EgressDenied,
    EgressUnresolved,
    egress_delivery_error,
)
from channels_app.providers.http import PinnedAdapter

METADATA_KEY = "tidings_message_id"

# SES error codes (v2 names and the v1 names some endpoints still answer with).
_SES_RATE_LIMITED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
    "MaxSendingRateExceeded",
}
_SES_PERMANENT = {
    "MessageRejected",
    "MailFromDomainNotVerified",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "AccountSendingPausedException",
    "ConfigurationSetDoesNotExist",
    "NotFoundException",
    "BadRequestException",
    "InvalidParameterValue",
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
}


class PinnedSessionMixin:
    """For anymail's requests-based backends: their session connects only where the egress
    policy allows, to the address it checked, and re-checks every redirect hop."""

    def create_session(self) -> requests.Session:
        session = super().create_session()
        session.trust_env = False
        adapter = PinnedAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


def validate_from_email(value: str) -> str:
    name, address = parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise serializers.ValidationError('must be an address, e.g. "Acme <news@acme.com>"')
    return value


class EspConfig(serializers.Serializer):
    """Fields every ESP account has; subclasses add the credentials."""

    from_email = serializers.CharField(validators=[validate_from_email])
    reply_to = serializers.EmailField(required=False, allow_blank=True, default="")


def validate_email_content(content: dict[str, Any]) -> None:
    """Subject, a text or html body, and a well-formed attachments list."""
    errors: dict[str, str] = {}
    if not str(content.get("subject") or "").strip():
        errors["content.subject"] = "an email needs a subject"
    if not (content.get("text") or content.get("html")):
        errors["content.text"] = "an email needs a text or an html body"
    errors.update(validate_attachments(content))
    if errors:
        raise serializers.ValidationError(errors)


class AnymailAdapter(ProviderAdapter):
    """Base for ESP adapters: set `backend_path` and implement `connection_kwargs`.

    One API call per message (`send_one`; the runner keeps several in flight), each
    concurrent request with a connection of its own, reused for the whole batch.
    """

    channels = (Channel.EMAIL,)
    max_batch_size = 1
    backend_path: ClassVar[str]
    # ESPs without custom metadata (MailerSend, Postal) carry our id in the header only.
    supports_metadata: ClassVar[bool] = True
    _pool: ResourcePool[BaseEmailBackend] | None = None

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        validate_email_content(content)

    # Config field -> anymail backend kwarg, for ESPs whose settings are only credentials
    # (and options) plus the API root; others override `connection_kwargs`.
    credential_kwargs: ClassVar[dict[str, str]] = {}

    def connection_kwargs(self) -> dict[str, Any]:
        """The anymail backend's ESP settings for this account."""
        if not self.credential_kwargs:
            raise NotImplementedError
        kwargs = {
            arg: self.config[name]
            for name, arg in self.credential_kwargs.items()
            if self.config.get(name) not in (None, "")
        }
        return {
            **kwargs,
            "api_url": self.base_url + "/",
            "timeout": settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS,
        }

    def esp_extra(self, message: OutboundMessage) -> dict[str, Any]:
        return {}

    def classify(self, exc: BaseException) -> DeliveryError:
        """Override where an ESP's status codes mean something else (Mandrill: 500s)."""
        return classify_error(exc)

    def __enter__(self) -> AnymailAdapter:
        self._pool = ResourcePool(self._open, _close)
        self._pool.prime()  # an ESP refusing the connection fails the batch before any message
        # A file shared by every receiver is fetched once per batch.
        self._attachments: dict[str, Attachment | DeliveryError] = {}
        return self

    def __exit__(self, *exc_info: object) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        if self._pool is not None:
            return super().send(messages)
        with self:  # called outside a `with` block: connections for this call only
            return super().send(messages)

    def send_one(self, message: OutboundMessage) -> SendResult:
        assert self._pool is not None, "use the adapter as a context manager"
        with self._pool.use() as connection:
            return self._send_one(connection, message, self._attachments)

    def _open(self) -> BaseEmailBackend:
        with warnings.catch_warnings():
            # anymail warns that SendGrid is community-supported; the API is unchanged.
            warnings.simplefilter("ignore", AnymailNotSupportedWarning)
            try:
                connection = get_connection(
                    self.backend_path, fail_silently=False, **self.connection_kwargs()
                )
                connection.open()
            except Exception as exc:  # any failure here fails the whole batch
                raise classify_error(exc) from None
        return connection

    def _send_one(
        self,
        connection: BaseEmailBackend,
        message: OutboundMessage,
        cache: dict[str, Attachment | DeliveryError],
    ) -> SendResult:
        email = build_email(message, self.config, connection, self.supports_metadata)
        email.esp_extra = self.esp_extra(message)
        try:
            attach_from_content(email, message.content, self.config, cache)
        except DeliveryError as error:
            return SendResult(error=error)
        try:
            sent = email.send()
        except Exception as exc:  # classified, never lost
            return SendResult(error=self.classify(exc))
        status = getattr(email, "anymail_status", None)
        provider_id = str(getattr(status, "message_id", "") or "") if status else ""
        statuses = set(getattr(status, "status", None) or ())
        if not sent or (statuses and statuses <= {"failed", "rejected", "invalid"}):
            # e.g. Mailjet answering 200/400 with a per-message error: nothing was sent.
            return SendResult(
                error=DeliveryError(
                    f"ESP accepted no recipient ({', '.join(sorted(statuses)) or 'no status'})",
                    permanent=True,
                    code="not_sent",
                )
            )
        return SendResult(provider_message_id=provider_id)


def _close(connection: BaseEmailBackend) -> None:
    try:
        connection.close()
    except Exception:  # noqa: S110 - the sends are done; closing is best effort
        pass


def content_headers(content: dict[str, Any]) -> dict[str, str]:
    """Extra headers a message carries in content["headers"] (e.g. List-Unsubscribe, added
    by the preferences rule); values with line breaks are dropped (header injection)."""
    headers = content.get("headers")
    if not isinstance(headers, dict):
        return {}
    return {
        str(name): str(value)
        for name, value in headers.items()
        if isinstance(value, str | int) and not any(c in f"{name}{value}" for c in "\r\n")
    }


def build_email(
    message: OutboundMessage,
    config: dict[str, Any],
    connection: BaseEmailBackend,
    with_metadata: bool = True,
) -> AnymailMessage:
    """Text + HTML parts, From/Reply-To, and the ids receipts are matched on."""
    content = message.content
    email = AnymailMessage(
        subject=str(content.get("subject", "")),
        body=str(content.get("text") or ""),
        from_email=config["from_email"],
        to=[message.receiver],
        reply_to=[config["reply_to"]] if config.get("reply_to") else None,
        headers={**content_headers(content), "X-Tidings-Message-Id": message.message_id},
        connection=connection,
    )
    if content.get("html"):
        email.attach_alternative(str(content["html"]), "text/html")
    if with_metadata:
        email.metadata = {METADATA_KEY: message.message_id}
    if message.template_code:
        email.tags = [message.template_code]
    return email


def classify_error(exc: BaseException) -> DeliveryError:
    """429 and throttling are rate limits, 5xx and network trouble transient, the rest of
    4xx and refused recipients permanent."""
    if isinstance(exc, DeliveryError):
        return exc
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(error, EgressDenied | EgressUnresolved):
            return egress_delivery_error(error)
    if isinstance(exc, AnymailRecipientsRefused):
        return DeliveryError("recipient refused by ESP", permanent=True, code="recipient_refused")
    if isinstance(exc, AnymailRequestsAPIError):
        return _classify_http(exc)
    cause = exc if isinstance(exc, ClientError) else exc.__cause__
    if isinstance(cause, ClientError):
        return _classify_client_error(cause)
    if isinstance(cause, ConnectTimeoutError | ReadTimeoutError):
        return DeliveryError("ESP timed out", code="timeout")
    if isinstance(cause, EndpointConnectionError):
        return DeliveryError("cannot reach ESP", code="connection")
    if isinstance(
        exc,
        AnymailInvalidAddress
        | AnymailUnsupportedFeature
        | AnymailSerializationError
        | AnymailConfigurationError,
    ):
        return DeliveryError(_short(exc), permanent=True, code="invalid")
    if isinstance(exc, AnymailAPIError):
        return DeliveryError(f"ESP error: {_short(exc)}", code="esp_error")
    if isinstance(exc, AnymailError):
        return DeliveryError(_short(exc), permanent=True, code="invalid")
    return DeliveryError(f"ESP call failed: {type(exc).__name__}", code="error")


def _classify_http(exc: AnymailRequestsAPIError) -> DeliveryError:
    status = exc.status_code
    if status is None:
        # No response: anymail re-raised a requests error (the class mixes in its type).
        if isinstance(exc, requests.Timeout):
            return DeliveryError("ESP timed out", code="timeout")
        return DeliveryError("cannot reach ESP", code="connection")
    body = _response_text(exc)
    if status == 429:
        return DeliveryError(
            f"rate limited by ESP: {body}",
            rate_limited=True,
            retry_after=_retry_after(exc.response),
            code="429",
        )
    if status == 408 or status >= 500:
        return DeliveryError(f"ESP error HTTP {status}: {body}", code=str(status))
    if 200 <= status < 300:
        # e.g. Mailgun answering 200 with an unexpected body: the send may have happened.
        return DeliveryError(f"unexpected ESP response: {body}", code="bad_response")
    return DeliveryError(f"rejected by ESP HTTP {status}: {body}", permanent=True, code=str(status))


def _classify_client_error(exc: ClientError) -> DeliveryError:
    error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
    code = str(error.get("Code") or "")
    text = str(error.get("Message") or "")[:300]
    status = (exc.response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    reason = f"SES {code}: {text}" if code else f"SES error HTTP {status}: {text}"
    if code in _SES_RATE_LIMITED or status == 429:
        return DeliveryError(reason, rate_limited=True, code=code or "429")
    if code in _SES_PERMANENT:
        return DeliveryError(reason, permanent=True, code=code)
    if status == 408 or status >= 500 or not status:
        return DeliveryError(reason, code=code or str(status))
    return DeliveryError(reason, permanent=True, code=code or str(status))


def _response_text(exc: AnymailRequestsAPIError) -> str:
    try:
        return excerpt(exc.response.text)
    except AttributeError:
        return ""


def _retry_after(response: requests.Response | None) -> float | None:
    try:
        return float(response.headers.get("Retry-After", "")) if response is not None else None
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    # anymail's str() appends the response; the first line is the message.
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
