"""The Tidings API over `requests`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from tidings_client.errors import (
    AuthError,
    NotFound,
    RateLimited,
    TidingsError,
    TidingsTimeout,
    UnexpectedState,
    ValidationError,
)

# Settled states that are not a success: waiting for another one is pointless.
SETTLED_STATES = frozenset(
    {
        "FAILED", "EXPIRED", "RECALLED", "CANCELLED", "DISCARDED", "FILTERED_WHITELIST",
        "SENSITIVE_REJECTED", "NIGHT_DROPPED", "DEDUP_CONTENT", "DEDUP_FREQUENCY",
        "OPTED_OUT", "UNDELIVERED",
    }
)  # fmt: skip

# (method, path template) of every call this client makes: the server's tests check each
# against its OpenAPI schema.
ENDPOINTS = {
    "send": ("post", "/api/v1/send"),
    "message": ("get", "/api/v1/messages/{message_id}/"),
    "replay": ("post", "/api/v1/messages/replay"),
}


@dataclass
class SendResult:
    request_id: str
    accepted: int
    messages: list[dict[str, Any]]
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message_ids(self) -> list[str]:
        return [item["message_id"] for item in self.messages]


class Tidings:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Api-Key {api_key}"

    # --- calls -----------------------------------------------------------------------
    def send(
        self,
        template: str | int,
        receivers: str | Iterable[str],
        variables: dict[str, Any] | None = None,
        **options: Any,
    ) -> SendResult:
        """One template to one receiver (a string) or many, with shared variables."""
        receivers = [receivers] if isinstance(receivers, str) else list(receivers)
        body = {"template": template, "receivers": receivers, "variables": variables or {}}
        return self._send(body, options)

    def send_batch(
        self, template: str | int, messages: Iterable[dict[str, Any]], **options: Any
    ) -> SendResult:
        """One template, per-receiver variables: messages=[{"receiver", "variables", "biz_id"}]."""
        return self._send({"template": template, "messages": list(messages)}, options)

    def message(self, message_id: str) -> dict[str, Any]:
        """State, rendered content and the ordered trace (`events`) of one message."""
        return self._call("message", message_id=message_id)

    def wait_for(
        self,
        message_id: str,
        state: str | Iterable[str] = "SENT",
        timeout: float = 30.0,
        *,
        interval: float = 0.3,
    ) -> dict[str, Any]:
        """Poll until the message is in (or its trace has passed through) `state`; a
        message that settles elsewhere (FAILED, DEDUP_CONTENT, ...) raises UnexpectedState."""
        wanted = {state} if isinstance(state, str) else set(state)
        deadline = time.monotonic() + timeout
        last: str | None = None
        while True:
            detail = self.message(message_id)
            last = detail["state"]
            seen = {last, *(event["state"] for event in detail.get("events", []))}
            if wanted & seen:
                return detail
            if last in SETTLED_STATES:
                reason = next(
                    (e.get("detail") for e in reversed(detail.get("events", [])) if e["state"] == last),
                    "",
                )  # fmt: skip
                raise UnexpectedState(
                    f"message {message_id} is {last}, not {'/'.join(sorted(wanted))}"
                    + (f": {reason}" if reason else ""),
                    state=last,
                    detail=detail,
                )
            if time.monotonic() >= deadline:
                raise TidingsTimeout(
                    f"message {message_id} still {last} after {timeout}s", state=last
                )
            time.sleep(interval)

    def replay(self, **filters: Any) -> dict[str, Any]:
        """Send again the messages matching the filters (template, channel, account, state,
        since, until, error_code, dry_run)."""
        body = {k: _json_value(v) for k, v in filters.items() if v is not None}
        return self._call("replay", json=body)

    # --- plumbing --------------------------------------------------------------------
    def _send(self, body: dict[str, Any], options: dict[str, Any]) -> SendResult:
        headers = {}
        key = options.pop("idempotency_key", None)
        if key:
            headers["Idempotency-Key"] = key
        allowed = {"priority", "ttl", "send_at"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"unknown send options: {', '.join(sorted(unknown))}")
        body.update({k: _json_value(v) for k, v in options.items() if v is not None})
        data = self._call("send", json=body, headers=headers)
        return SendResult(
            request_id=data["request_id"],
            accepted=data["accepted"],
            messages=data["messages"],
            rejected=data.get("rejected", []),
        )

    def _call(self, name: str, *, json: Any = None, headers: dict | None = None, **path: str):
        method, template = ENDPOINTS[name]
        url = self.base_url + template.format(**path)
        response = self.session.request(
            method.upper(), url, json=json, headers=headers, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise _error(response)
        return response.json()


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _error(response: requests.Response) -> TidingsError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": "http_error", "message": response.text[:200] or response.reason}
    kwargs = {
        "status": response.status_code,
        "code": body.get("error", "error"),
        "fields": body.get("fields") or {},
        "body": body,
    }
    message = f"{response.status_code} {body.get('message') or body.get('error')}"
    status = response.status_code
    if status == 400:
        return ValidationError(message, **kwargs)
    if status in (401, 403):
        return AuthError(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 429:
        retry = response.headers.get("Retry-After")
        try:
            retry_after = float(retry) if retry is not None else None
        except ValueError:
            retry_after = None
        return RateLimited(message, retry_after=retry_after, **kwargs)
    return TidingsError(message, **kwargs)
