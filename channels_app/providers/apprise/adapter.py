"""Any Apprise URL (https://github.com/caronc/apprise/wiki) as an account: the long tail of
chat, push and alerting services through the same templates, tracking and rules.

Config `urls` is a list of Apprise URLs, each optionally tagged the way Apprise's own text
config tags them: "ops, oncall=slack://T000/B000/XXX". A message's receiver picks services
by tag ("ops", or "ops,dev" for either); "*" or "all" sends to every URL.

Egress: Apprise plugins make their own connections (with their own requests calls), so the
policy cannot pin the address here. Instead, every host an Apprise URL names (json://host,
gotify://host, mailto's smtp host, ...) is checked by the egress policy when the account is
saved and again before every batch, and redirects are turned off for every plugin. What is
left (a name re-resolved to another address between the check and the plugin's connection)
is documented in docs/operations.md, Egress policy.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import apprise
from django.conf import settings
from rest_framework import serializers

from channels_app.channels import Channel
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

_TAGGED = re.compile(
    r"^\s*(?:(?P<tags>[A-Za-z0-9_, -]+?)\s*=\s*)?(?P<url>[A-Za-z0-9+]{1,32}://\S+)\s*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Plugins that act on the server itself (desktop notifications, local syslog), not a service.
_LOCAL_SCHEMES = {"windows", "macosx", "dbus", "kde", "qt", "glib", "gnome", "syslog", "blink1"}
FORMATS = ("text", "markdown", "html")
TYPES = ("info", "success", "warning", "failure")


def parse_entry(entry: str) -> tuple[list[str], str]:
    """'tag1, tag2=scheme://...' -> (["tag1", "tag2"], "scheme://...")."""
    match = _TAGGED.match(entry)
    if not match:
        raise ValueError("not an Apprise URL (scheme://...)")
    tags = [t.strip() for t in (match.group("tags") or "").split(",") if t.strip()]
    return tags, match.group("url")


def _instantiate(entry: str, asset: apprise.AppriseAsset) -> Any:
    tags, url = parse_entry(entry)
    if url.split("://", 1)[0].lower() in _LOCAL_SCHEMES:
        raise ValueError("local notification plugins are not allowed")
    plugin = apprise.Apprise.instantiate(url, asset=asset, tag=tags or None)
    if plugin is None:
        raise ValueError("Apprise does not recognise this URL")
    # The platform timeout, unless the URL sets its own (Apprise's cto/rto parameters).
    query = parse_qs(urlsplit(url).query)
    timeout = float(settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS)
    if "cto" not in query:
        plugin.socket_connect_timeout = timeout
    if "rto" not in query:
        plugin.socket_read_timeout = timeout
    # A redirect could lead anywhere; `?redirect=yes` in the URL does not turn it back on.
    plugin.redirects = False
    return plugin


def network_targets(plugin: Any) -> list[tuple[str, int]]:
    """The (host, port) pairs a plugin connects to that its URL chooses. Plugins of hosted
    services (Slack, Telegram, ...) use their fixed API host and have no "host" token;
    for email the host is the address's domain and the server is `smtp_host`."""
    secure = bool(getattr(plugin, "secure", False))
    port = getattr(plugin, "port", None)
    if getattr(plugin, "smtp_host", None):
        return [(str(plugin.smtp_host), int(port or (465 if secure else 25)))]
    host = getattr(plugin, "host", None)
    if host and "host" in (getattr(plugin, "template_tokens", None) or {}):
        return [(str(host), int(port or (443 if secure else 80)))]
    return []


class AppriseConfig(serializers.Serializer):
    urls = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        min_length=1,
        max_length=50,
        help_text='Apprise URLs, optionally tagged: "ops=slack://...".',
    )

    def validate_urls(self, value: list[str]) -> list[str]:
        asset = apprise.AppriseAsset()
        errors = {}
        for index, entry in enumerate(value):
            try:
                plugin = _instantiate(entry, asset)
            except ValueError as exc:
                # Never echo the URL: it carries the service's credentials.
                errors[index] = [str(exc)]
                continue
            for host, port in network_targets(plugin):
                if problem := egress_save_problem(host, port):
                    errors[index] = [problem]
                    break
        if errors:
            raise serializers.ValidationError(errors)
        return value


class AppriseAdapter(ProviderAdapter):
    provider = "apprise"
    label = "Apprise (any Apprise URL)"
    channels = (Channel.OTHER,)
    # Apprise makes one notify() per message (`send_one`, several in flight); each concurrent
    # request uses an Apprise object of its own, built once per batch (it also carries
    # Apprise's per-service throttling between calls).
    config_serializer = AppriseConfig
    secret_fields = ("urls",)
    _pool: ResourcePool[apprise.Apprise] | None = None

    @classmethod
    def validate_content(cls, channel: str, content: dict[str, Any]) -> None:
        errors = {}
        if not str(content.get("body") or "").strip():
            errors["content.body"] = "a notification needs a body"
        if "title" in content and not isinstance(content["title"], str):
            errors["content.title"] = "must be a string"
        if content.get("format", "text") not in FORMATS:
            errors["content.format"] = f"one of {', '.join(FORMATS)}"
        if content.get("type", "info") not in TYPES:
            errors["content.type"] = f"one of {', '.join(TYPES)}"
        if errors:
            raise serializers.ValidationError(errors)

    def __enter__(self) -> AppriseAdapter:
        self._pool = ResourcePool(self._build, lambda notifier: None)
        self._pool.prime()  # an invalid or refused URL fails the batch before any message
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def send(self, messages: list[OutboundMessage]) -> list[SendResult]:
        if self._pool is not None:
            return super().send(messages)
        with self:  # called outside a `with` block
            return super().send(messages)

    def send_one(self, message: OutboundMessage) -> SendResult:
        assert self._pool is not None, "use the adapter as a context manager"
        with self._pool.use() as notifier:
            return self._send_one(notifier, message)

    def _build(self) -> apprise.Apprise:
        asset = apprise.AppriseAsset()
        notifier = apprise.Apprise(asset=asset)
        for entry in self.config["urls"]:
            try:
                plugin = _instantiate(entry, asset)
            except ValueError as exc:
                raise DeliveryError(
                    f"invalid Apprise URL: {exc}", permanent=True, code="config"
                ) from None
            for host, port in network_targets(plugin):
                try:
                    egress_resolve(host, port)
                except (EgressDenied, EgressUnresolved) as exc:
                    raise egress_delivery_error(exc, "Apprise URL") from None
            notifier.add(plugin)
        return notifier

    def _send_one(self, notifier: apprise.Apprise, message: OutboundMessage) -> SendResult:
        receiver = message.receiver.strip()
        if receiver in ("", "*", "all"):
            tag: Any = apprise.common.MATCH_ALL_TAG
        else:
            tags = [t.strip() for t in receiver.split(",") if t.strip()]
            if not tags or not all(_TAG.match(t) for t in tags):
                return SendResult(
                    error=DeliveryError(
                        "receiver must be '*' or comma-separated tags",
                        permanent=True,
                        code="receiver",
                    )
                )
            tag = tags
        content = message.content
        result = notifier.notify(
            body=str(content.get("body") or ""),
            title=str(content.get("title") or ""),
            body_format=content.get("format") or "text",
            notify_type=content.get("type") or "info",
            tag=tag,
        )
        status = getattr(getattr(result, "status", None), "name", "")
        if result is None or status == "NOMATCH":
            return SendResult(
                error=DeliveryError(
                    f"no Apprise URL matches receiver {receiver!r}", permanent=True, code="no_match"
                )
            )
        if result:
            return SendResult(provider_message_id=message.message_id)
        # Apprise reports only success or failure; a retry may reach the service next time.
        failed = getattr(result, "failed_count", None)
        total = len(result) if hasattr(result, "__len__") else None
        detail = f": {failed} of {total} services failed" if failed is not None else ""
        code = "timeout" if status == "TIMEOUT" else "apprise"
        return SendResult(error=DeliveryError(f"Apprise notify failed{detail}", code=code))
