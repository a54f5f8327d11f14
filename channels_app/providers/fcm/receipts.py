"""FCM's only delivery signal is the send API's answer: per-token outcomes, no receipts.

FCM v1 documents two answers that mean the registration token will never work again:
`UNREGISTERED` (404: the app was uninstalled or the token expired) and `INVALID_ARGUMENT`
carried as an FcmError (400 "The registration token is not a valid FCM registration
token"). A payload problem is also INVALID_ARGUMENT, but as a google.rpc.BadRequest with
field violations: that one is ours to fix, not the token's, so it does not kill the token.
"""

from __future__ import annotations

from typing import Any

FCM_ERROR_TYPE = "google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "google.rpc.BadRequest"
DEAD_TOKEN_CODES = {"UNREGISTERED", "INVALID_ARGUMENT"}


def token_dead(status: int, body: Any) -> bool:
    """Does this FCM error answer say the message's registration token is dead?"""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or status not in (400, 404):
        return False
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    types = {str(d.get("@type", "")).rsplit("/", 1)[-1] for d in details}
    codes = {
        str(d.get("errorCode") or "")
        for d in details
        if str(d.get("@type", "")).endswith(FCM_ERROR_TYPE)
    }
    if "UNREGISTERED" in codes:
        return True
    # INVALID_ARGUMENT names the token only as an FcmError without field violations.
    return "INVALID_ARGUMENT" in codes and BAD_REQUEST_TYPE not in types
