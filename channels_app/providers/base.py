"""The one contract every provider folder implements.

An adapter turns rendered messages plus an account's config into provider calls, and says
for each message either the provider's id or a DeliveryError telling whether a retry helps.

Two shapes, and the batch contract is what tells them apart:
- a provider with a batch API implements `send(messages)`, one call for up to
  `max_batch_size` messages (results are recorded per call, so a killed worker leaves at
  most one call's messages "in doubt");
- a provider that takes one message per request implements `send_one(message)` and keeps
  `max_batch_size = 1`. The delivery code (channels_app.providers.runner) then keeps up to
  the account's `max_in_flight` requests in flight, records each result as it completes,
  and stops issuing when `stops_batch(error)` says the rest would fail the same way.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from rest_framework import serializers

from channels_app.providers.tokens import cached_token, token_invalidate

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


# Errors after which every following request to the account fails the same way: the host is
# unreachable or too slow, or refused by our egress policy.
# Not "timeout": one slow call does not say the next will be; a provider that times out on
# every call is stopped by the circuit breaker (consecutive failures) and the runner's
# shrinking window, while one that times out on some calls keeps being called.
ACCOUNT_WIDE_CODES = frozenset({"connection", "egress_denied"})

T = TypeVar("T")


class ResourcePool(Generic[T]):
    """Connections (SMTP, an ESP backend, an Apprise object) reused by the requests of one
    batch, one per concurrent request: a connection is never used by two threads at once."""

    def __init__(self, open_: Callable[[], T], close: Callable[[T], None]) -> None:
        self._open, self._close = open_, close
        self._idle: queue.LifoQueue[T] = queue.LifoQueue()
        self._all: list[T] = []

    def prime(self) -> None:
        """Open one now: a server that is down fails the batch before anything is sent."""
        self._idle.put(self._new())

    def _new(self) -> T:
        resource = self._open()
        self._all.append(resource)
        return resource

    @contextmanager
    def use(self) -> Iterator[T]:
        try:
            resource = self._idle.get_nowait()
        except queue.Empty:
            resource = self._new()
        try:
            yield resource
        finally:
            self._idle.put(resource)

    def close(self) -> None:
        for resource in self._all:
            self._close(resource)
        self._all.clear()
        self._idle = queue.LifoQueue()


class ProviderAdapter:
    """Subclass per provider: set the class attributes and implement `send` (a batch API)
    or `send_one` (one message per request). `send_one` may be called from several threads
    at once on the same adapter: keep per-request state local (or in a ResourcePool), and
    never touch the database there (a runner thread would keep its connection open)."""

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
        self._tokens: dict[str, str] = {}
        self._tokens_lock = threading.Lock()

    def provider_token(self, name: str, fetch: Callable[[], tuple[str, int]]) -> str:
        """The provider's access token `name` (tokens.cached_token), read from the shared
        cache once per adapter, which is once per batch a worker dispatches: a batch of 500
        pushes made 500 Redis round trips for the same token before. It is kept for
        seconds, far inside the cached token's refresh margin; a rejected one is forgotten
        here too (`provider_token_rejected`). The runner's threads start a batch together:
        one reads the shared cache and the others wait for it, instead of each reading it
        (and each opening its own Redis connection: Django's cache is per thread)."""
        token = self._tokens.get(name)
        if token is None:
            with self._tokens_lock:
                token = self._tokens.get(name)
                if token is None:
                    token = self._tokens[name] = cached_token(name, fetch)
        return token

    def provider_token_rejected(self, name: str, token: str) -> None:
        """The provider refused `token`: the next call fetches a fresh one."""
        if self._tokens.get(name) == token:
            del self._tokens[name]
        token_invalidate(name, token)

    @property
    def batch_size(self) -> int:
        """Messages per `send` call. Results are committed after each call, so this is also
        how many messages a worker killed mid-call can leave "in doubt". A single-request
        adapter reports 1: its in-doubt bound is the runner's in-flight window instead."""
        return 1 if self.single_request else self.max_batch_size

    @property
    def single_request(self) -> bool:
        """True when the provider takes one message per request (the adapter implements
        `send_one`): the delivery code runs many of them concurrently."""
        return type(self).send_one is not ProviderAdapter.send_one

    def send_one(self, message: OutboundMessage) -> SendResult:
        """One request for one message. Raise DeliveryError or return SendResult(error=…)."""
        raise NotImplementedError

    def stops_batch(self, error: DeliveryError) -> bool:
        """Would every following request of this account fail the same way (throttled,
        unreachable, credentials refused)? Then no more are issued: the rest of the batch is
        handed back without spending an attempt. Adapters add their account-wide codes."""
        return error.rate_limited or error.code in ACCOUNT_WIDE_CODES

    def __enter__(self) -> ProviderAdapter:
        """Open what several `send` calls share (e.g. one SMTP connection)."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close what __enter__ opened."""

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        """One result per message, in order; raise DeliveryError when the whole call failed.
        For a single-request adapter: its requests one after another, stopping as
        `stops_batch` says (the delivery code runs them concurrently instead)."""
        if not self.single_request:
            raise NotImplementedError
        results: list[SendResult] = []
        for message in messages:
            result = self.call_one(message)
            results.append(result)
            if result.error is not None and self.stops_batch(result.error):
                results += [SendResult(error=result.error)] * (len(messages) - len(results))
                break
        return results

    def call_one(self, message: OutboundMessage) -> SendResult:
        """`send_one` with a raised DeliveryError turned into a result."""
        try:
            return self.send_one(message)
        except DeliveryError as error:
            return SendResult(error=error)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        serializer = cls.config_serializer(data=config)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        """Raise serializers.ValidationError when the template content cannot be sent."""
