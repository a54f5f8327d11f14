"""The one contract every provider folder implements.

An adapter turns rendered messages plus an account's config into provider calls, and says
for each message either the provider's id or a DeliveryError telling whether a retry helps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rest_framework import serializers

# What a provider answered is shown back to the App (message and account last_error): keep
# it short and printable, so an internal service's answer cannot be read back through it.
EXCERPT_CHARS = 200
REASON_CHARS = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def excerpt(text: str | bytes | None, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable excerpt: control characters (log and terminal injection) become
    spaces, runs of spaces collapse, and it never exceeds `limit` characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    flat = re.sub(r"\s{2,}", " ", _CONTROL.sub(" ", text or "")).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class DeliveryError(Exception):
    """A failed provider call. `permanent` errors are never retried. The reason is cut to
    a short printable excerpt, whatever an adapter copied into it."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        rate_limited: bool = False,
        retry_after: float | None = None,
        code: str = "",
    ) -> None:
        reason = excerpt(reason, REASON_CHARS)
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.rate_limited = rate_limited
        self.retry_after = retry_after
        self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.reason}" if self.code else self.reason


@dataclass(frozen=True)
class OutboundMessage:
    id: int
    message_id: str
    receiver: str
    content: dict[str, Any]
    variables: dict[str, Any] = field(default_factory=dict)
    biz_id: str = ""
    template_code: str = ""
    message_type: str = "notice"


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str = ""
    error: DeliveryError | None = None
    # Accepted, but the provider's answer already says it will not reach this receiver (e.g.
    # WeCom's `invaliduser`, FCM's UNREGISTERED): the reason. Recorded as SENT, then
    # UNDELIVERED at once through the receipts' state machine.
    undelivered: str = ""
    # The reason above is a device token gone for good (FCM UNREGISTERED, APNs 410): the
    # token is also marked dead and never used again.
    dead_token: bool = False

    def __post_init__(self) -> None:
        if self.dead_token and (self.error is not None or not self.undelivered):
            raise ValueError("a dead token is an undelivered result: give its reason")

    @property
    def ok(self) -> bool:
        return self.error is None


class EmptyConfig(serializers.Serializer):
    pass


class ProviderAdapter:
    """Subclass per provider: set the class attributes and implement `send`."""

    provider: ClassVar[str]
    label: ClassVar[str]
    channels: ClassVar[tuple[str, ...]]
    # How many messages one `send` call may take (the provider's batch API size).
    max_batch_size: ClassVar[int] = 1
    default_base_url: ClassVar[str] = ""
    config_serializer: ClassVar[type[serializers.Serializer]] = EmptyConfig
    # Config keys that are credentials: never shown by the API, masked in the admin.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, config: dict[str, Any], *, base_url: str = "", account_id: int | None = None
    ):
        self.config = config
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.account_id = account_id

    @property
    def batch_size(self) -> int:
        """Messages per `send` call. Results are committed after each call, so this is also
        how many messages a worker killed mid-call can leave "in doubt"; an adapter that
        loops over single-message requests inside `send` must report 1 here."""
        return self.max_batch_size

    def __enter__(self) -> ProviderAdapter:
        """Open what several `send` calls share (e.g. one SMTP connection)."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close what __enter__ opened."""

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        """One result per message, in order; raise DeliveryError when the whole call failed."""
        raise NotImplementedError

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        serializer = cls.config_serializer(data=config)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        """Raise serializers.ValidationError when the template content cannot be sent."""
