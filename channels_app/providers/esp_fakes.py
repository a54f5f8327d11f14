"""What the local fakes of the anymail ESPs share (each ESP's own contract is in its folder's
fake.py): credentials checked first, then the ESP's required fields, then the answer its
API documents; every accepted email is kept in a normalized form for the tests, and each
fake builds that ESP's tracking webhook call (body, content type, signature headers)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from channels_app.providers.fakes_http import Recorded, Reply


@dataclass
class AcceptedEmail:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    provider_id: str


@dataclass
class WebhookCall:
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class EspFake:
    """Subclasses set `path` (the send endpoint, below the fake server's root) and implement
    `authorized`, `check` (the first problem the ESP would report, or None), `accept` and
    `webhook`. `api_root` is appended to the server URL to form the account's base_url."""

    path: ClassVar[str]
    api_root: ClassVar[str] = ""
    # ANYMAIL settings the tests set so the ESP's webhook signature check is on.
    anymail_settings: ClassVar[dict[str, str]] = {}
    # The account config the contract tests use (credentials the fake accepts).
    config: ClassVar[dict[str, Any]]
    auth_status: ClassVar[int] = 401
    # The state the "delivered" webhook reaches (READ for an ESP with no delivery event).
    delivered_state: ClassVar[str] = "DELIVERED"

    def __init__(self) -> None:
        self.accepted: list[AcceptedEmail] = []
        self.fail_with: Reply | None = None  # answer every valid call with this instead
        self._lock = threading.Lock()
        self._serial = 0

    def __call__(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != self.api_root + self.path:
            return Reply(status=404, body={"message": "not found"})
        if not self.authorized(request):
            return self.refused(self.auth_status, "invalid credentials")
        try:
            payload = self.parse(request)
        except ValueError:
            return self.refused(400, "malformed body")
        problem = self.check(payload)
        if problem:
            return self.refused(self.invalid_status(), problem)
        if self.fail_with is not None:
            return self.fail_with
        with self._lock:
            self._serial += 1
            emails, reply = self.accept(payload, self._serial)
            self.accepted.extend(emails)
        return reply

    def parse(self, request: Recorded) -> Any:
        return json.loads(request.body or b"null")

    def invalid_status(self) -> int:
        return 422

    def refused(self, status: int, message: str) -> Reply:
        return Reply(status=status, body={"message": message})

    def authorized(self, request: Recorded) -> bool:
        raise NotImplementedError

    def check(self, payload: Any) -> str | None:
        raise NotImplementedError

    def accept(self, payload: Any, serial: int) -> tuple[list[AcceptedEmail], Reply]:
        raise NotImplementedError

    def webhook(self, provider_id: str, recipient: str, event: str, url: str) -> WebhookCall:
        """The ESP's tracking webhook for `event` ("delivered" or "bounced") as it would post
        it to `url` (the full receipt URL, basic auth included, which some ESPs sign)."""
        raise NotImplementedError


def header_map(items: Any) -> dict[str, str]:
    """Headers as an ESP payload carries them: a dict, or a list of {Name/name, Value/value}."""
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    pairs: dict[str, str] = {}
    for item in items or []:
        name = item.get("Name", item.get("name"))
        pairs[str(name)] = str(item.get("Value", item.get("value")))
    return pairs


def require(payload: dict[str, Any], *fields: str) -> str | None:
    """The first of `fields` (dotted paths) missing or empty in the payload, as a message."""
    for dotted in fields:
        value: Any = payload
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value in (None, "", [], {}):
            return f"{dotted} is required"
    return None
