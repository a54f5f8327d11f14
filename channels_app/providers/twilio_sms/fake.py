"""A Twilio Messages endpoint (POST /2010-04-01/Accounts/{sid}/Messages.json) that checks what
Twilio checks: Basic auth, the account in the path, the form fields and their limits, and
answers with Twilio's Message resource (201) or its error JSON {code, message, more_info, status}.
"""

from __future__ import annotations

import base64
import itertools
import re
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from channels_app.providers.fakes_http import Recorded, Reply

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class FakeTwilioSms:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "fake-auth-token"
    # Per-recipient errors: {"+15550000000": (status, code, message)}.
    number_errors: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    throttled: bool = False
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[int] = field(default_factory=list)
    _sids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __call__(self, request: Recorded) -> Reply:
        problem = self._check(request)
        if problem is not None:
            status, code, message = problem
            self.rejections.append(code)
            return _error(status, code, message)
        if self.throttled:
            self.rejections.append(20429)
            reply = _error(429, 20429, "Too Many Requests")
            reply.headers["Retry-After"] = "3"
            return reply
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        if form["To"] in self.number_errors:
            status, code, message = self.number_errors[form["To"]]
            self.rejections.append(code)
            return _error(status, code, message)
        sid = f"SM{next(self._sids):032x}"
        self.accepted.append({"sid": sid, **form})
        return Reply(
            status=201,
            body={
                "sid": sid,
                "account_sid": self.account_sid,
                "to": form["To"],
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form["Body"],
                "status": "queued" if form.get("From") else "accepted",
                "num_segments": "1",
                "num_media": "0",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": formatdate(usegmt=True),
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
                },
            },
        )

    def _check(self, request: Recorded) -> tuple[int, int, str] | None:
        match = _PATH.match(request.path)
        if request.method != "POST" or match is None:
            return 404, 20404, "The requested resource was not found"
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(credentials).decode().partition(":")
        except ValueError:
            user = password = ""
        if scheme != "Basic" or user != self.account_sid or password != self.auth_token:
            return 401, 20003, "Authenticate"
        if match["sid"] != user:
            return 404, 20404, "The requested resource was not found"
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return 400, 21602, "Message body is required."  # a JSON body reads as an empty form
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        if not form.get("To"):
            return 400, 21604, "A 'To' phone number is required."
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return 400, 21603, "A 'From' phone number is required."
        if not form.get("Body"):
            return 400, 21602, "Message body is required."
        if len(form["Body"]) > 1600:
            return 400, 21617, "The concatenated message body exceeds the 1600 character limit."
        if not _E164.match(form["To"]):
            return 400, 21211, f"The 'To' number {form['To']} is not a valid phone number."
        return None


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status=status,
        body={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )
