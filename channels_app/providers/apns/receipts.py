"""APNs' only delivery signal is the answer to each push: Apple sends no receipts.

Two answers mean the device token will never work again (Apple: stop sending to it):
410 `Unregistered` (the app was removed from the device, with the timestamp Apple last
knew it valid) and 400 `BadDeviceToken` (not a token of this environment/app). Other 400s
are about the request (payload, topic, headers) and leave the token alone.
"""

from __future__ import annotations

DEAD_TOKEN_ANSWERS = {(410, "Unregistered"), (400, "BadDeviceToken")}


def token_dead(status: int, reason: str) -> bool:
    """Does this APNs answer (HTTP status and `reason`) say the device token is dead?"""
    return (status, reason) in DEAD_TOKEN_ANSWERS
