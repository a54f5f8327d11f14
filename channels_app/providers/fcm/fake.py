"""Google OAuth token endpoint + FCM HTTP v1 send, as one FakeHTTPServer responder.

The token endpoint verifies the service-account JWT (RS256 signature with the public key,
iss, aud, scope, lifetime) as Google does; the send endpoint checks the bearer token and the
message fields and answers in FCM's error shape: an FcmError detail for a bad or
unregistered token, a google.rpc.BadRequest with field violations for a bad payload."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import jwt

from channels_app.providers.fakes_http import Recorded, Reply

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BAD_TOKEN = "The registration token is not a valid FCM registration token"


def fcm_error(status: int, grpc_status: str, message: str, error_code: str = "") -> Reply:
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
    if error_code:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": error_code,
            }
        ]
    return Reply(status=status, body={"error": error})


def bad_request(message: str, field: str = "message") -> Reply:
    error = {
        "code": 400,
        "message": message,
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}],
            }
        ],
    }
    return Reply(status=400, body={"error": error})


class FakeFCM:
    def __init__(self, *, project_id: str, client_email: str, public_key: Any):
        self.project_id = project_id
        self.client_email = client_email
        self.public_key = public_key
        self.token_uri = ""  # the fixture sets it once the server has a port: it is the aud
        self.unregistered: set[str] = set()
        self.valid_tokens: set[str] = set()
        self.token_calls = 0
        self.sent: list[dict[str, Any]] = []
        self.fail_with: Reply | None = None  # answer every send with this
        self.delay = 0.0
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working, as at the end of its hour."""
        with self._lock:
            self.valid_tokens.clear()

    def __call__(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        if request.method == "POST" and request.path.endswith("/messages:send"):
            if self.delay:
                time.sleep(self.delay)
            return self._send(request)
        return Reply(status=404, body={"error": {"code": 404, "status": "NOT_FOUND"}})

    def _token(self, request: Recorded) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != GRANT_TYPE:
            return Reply(status=400, body={"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidTokenError as exc:
            return Reply(
                status=400,
                body={"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"},
            )
        if SCOPE not in str(claims.get("scope", "")).split():
            return Reply(status=400, body={"error": "invalid_scope"})
        if claims["exp"] - claims["iat"] > 3600:
            return Reply(
                status=400,
                body={"error": "invalid_grant", "error_description": "JWT lifetime over 1h"},
            )
        token = "ya29." + secrets.token_urlsafe(24)
        with self._lock:
            self.token_calls += 1
            self.valid_tokens.add(token)
        return Reply(body={"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _send(self, request: Recorded) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
            return fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if request.path != f"/v1/projects/{self.project_id}/messages:send":
            return fcm_error(
                403,
                "PERMISSION_DENIED",
                "Permission 'cloudmessaging.messages.create' denied on resource",
            )
        if self.fail_with is not None:
            return self.fail_with
        try:
            message = request.json["message"]
        except (ValueError, KeyError, TypeError):
            return bad_request("Invalid JSON payload received.")
        problem = _check(message)
        if problem == BAD_TOKEN:
            return fcm_error(400, "INVALID_ARGUMENT", problem, "INVALID_ARGUMENT")
        if problem:
            return bad_request(problem)
        if message["token"] in self.unregistered:
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        with self._lock:
            name = f"projects/{self.project_id}/messages/0:{next(self._ids)}"
            self.sent.append({**message, "name": name})
        return Reply(body={"name": name})


def _check(message: Any) -> str:
    if not isinstance(message, dict):
        return "message must be an object"
    targets = [k for k in ("token", "topic", "condition") if k in message]
    if targets != ["token"]:
        return "Exactly one of token, topic or condition must be specified"
    token = message["token"]
    if not isinstance(token, str) or len(token) < 20 or " " in token:
        return BAD_TOKEN
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or not all(
        isinstance(notification.get(k, ""), str) for k in ("title", "body", "image")
    ):
        return "Invalid value at 'message.notification'"
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data': values must be strings"
    return ""
