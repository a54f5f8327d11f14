"""Email over SMTP with Django's email backend: one connection per batch, text + HTML parts.

The SMTP host obeys the egress policy: checked when the account is saved, and the
connection goes to the address egress_resolve checked (TLS still verifies the host name).
"""

from __future__ import annotations

import smtplib
import socket
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from rest_framework import serializers

from channels_app.channels import Channel
from channels_app.providers.anymail_common import content_headers
from channels_app.providers.attachments import attach_from_content, validate_attachments
from channels_app.providers.base import (
    DeliveryError,
    OutboundMessage,
    ProviderAdapter,
    ResourcePool,
    SendResult,
)
from channels_app.providers.egress import (
    EgressDenied,
    EgressUnresolved,
    egress_delivery_error,
    egress_resolve,
    egress_save_problem,
)


class _PinnedSMTP(smtplib.SMTP):
    """Connects to the address the egress policy checked; self._host (the name) stays for
    STARTTLS's SNI and certificate check."""

    def _get_socket(self, host, port, timeout):
        destination = egress_resolve(host, port)
        return socket.create_connection((destination.address, port), timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL, _PinnedSMTP):
    """SMTP_SSL._get_socket wraps what _PinnedSMTP._get_socket connected (MRO)."""


class _PinnedEmailBackend(EmailBackend):
    @property
    def connection_class(self):
        return _PinnedSMTPSSL if self.use_ssl else _PinnedSMTP


class SmtpConfig(serializers.Serializer):
    host = serializers.CharField()
    port = serializers.IntegerField(min_value=1, max_value=65535, default=587)
    username = serializers.CharField(required=False, allow_blank=True, default="")
    password = serializers.CharField(required=False, allow_blank=True, default="")
    use_tls = serializers.BooleanField(default=False, help_text="STARTTLS")
    use_ssl = serializers.BooleanField(default=False, help_text="Implicit TLS (port 465)")
    from_email = serializers.CharField()
    reply_to = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs.get("use_tls") and attrs.get("use_ssl"):
            raise serializers.ValidationError(
                {"use_ssl": "use either use_tls or use_ssl, not both"}
            )
        if problem := egress_save_problem(attrs["host"], attrs.get("port", 587)):
            raise serializers.ValidationError({"host": problem})
        return attrs


class SmtpAdapter(ProviderAdapter):
    provider = "smtp"
    label = "SMTP"
    channels = (Channel.EMAIL,)
    config_serializer = SmtpConfig
    secret_fields = ("password",)

    @classmethod
    def validate_content(cls, channel: str, content: dict) -> None:
        errors = {}
        if not str(content.get("subject") or "").strip():
            errors["content.subject"] = "an email needs a subject"
        if not (content.get("text") or content.get("html")):
            errors["content.text"] = "an email needs a text or an html body"
        errors.update(validate_attachments(content))
        if errors:
            raise serializers.ValidationError(errors)

    # One message per call (the runner keeps several in flight); each concurrent request
    # has a connection of its own, reused for the whole batch.
    _pool: ResourcePool[EmailBackend] | None = None

    def __enter__(self) -> SmtpAdapter:
        self._attachments: dict = {}  # each URL fetched once per batch
        self._pool = ResourcePool(self._open, _close)
        self._pool.prime()  # a server that is down fails the batch before any message
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _open(self) -> EmailBackend:
        connection = _PinnedEmailBackend(
            host=self.config["host"],
            port=self.config.get("port", 587),
            username=self.config.get("username") or None,
            password=self.config.get("password") or None,
            use_tls=self.config.get("use_tls", False),
            use_ssl=self.config.get("use_ssl", False),
            timeout=settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS,
            fail_silently=False,
        )
        try:
            connection.open()
        except (EgressDenied, EgressUnresolved) as exc:
            raise egress_delivery_error(exc, "SMTP host") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from None
        return connection

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        if self._pool is not None:
            return super().send(messages)
        with self:  # called outside a `with` block: connections for this call only
            return super().send(messages)

    def send_one(self, message: OutboundMessage) -> SendResult:
        assert self._pool is not None, "use the adapter as a context manager"
        with self._pool.use() as connection:
            return self._send_one(connection, message)

    def _send_one(self, connection: EmailBackend, message: OutboundMessage) -> SendResult:
        content = message.content
        message_id_header = make_msgid(domain="tidings")
        email = EmailMultiAlternatives(
            subject=content.get("subject", ""),
            body=content.get("text") or "",
            from_email=self.config["from_email"],
            to=[message.receiver],
            reply_to=[self.config["reply_to"]] if self.config.get("reply_to") else None,
            headers={
                **content_headers(content),
                "Message-ID": message_id_header,
                "X-Tidings-Message-Id": message.message_id,
            },
            connection=connection,
        )
        if content.get("html"):
            email.attach_alternative(content["html"], "text/html")
        try:
            attach_from_content(email, content, self.config, self._attachments)
        except DeliveryError as error:
            return SendResult(error=error)
        try:
            email.send()
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(error=_classify(exc))
        return SendResult(provider_message_id=message_id_header.strip("<>"))


def _close(connection: EmailBackend) -> None:
    try:
        connection.close()
    except (smtplib.SMTPException, OSError):
        pass


def _classify(exc: Exception) -> DeliveryError:
    """SMTP 5xx replies are permanent, 4xx and network trouble are transient."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"SMTP authentication failed ({exc.smtp_code})", permanent=True, code=str(exc.smtp_code)
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return DeliveryError(
            f"recipient refused: {_text(reply)}", permanent=code >= 500, code=str(code)
        )
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError | smtplib.SMTPHeloError):
        return DeliveryError(
            f"SMTP error: {_text(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
            code=str(exc.smtp_code),
        )
    if isinstance(exc, socket.timeout | TimeoutError):
        return DeliveryError("SMTP server timed out", code="timeout")
    return DeliveryError(f"SMTP connection failed: {type(exc).__name__}", code="connection")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
