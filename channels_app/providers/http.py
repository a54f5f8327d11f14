"""All provider HTTP goes through `http_request`: pooled sessions, a fixed timeout, and one
place that turns transport failures and status codes into DeliveryErrors."""

from __future__ import annotations

import threading
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from channels_app.providers.base import DeliveryError

_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=32, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "Tidings/1.0"
        _local.session = session
    return session


def http_request(
    method: str, url: str, *, check_status: bool = True, timeout: float | None = None, **kwargs: Any
) -> requests.Response:
    """Send one request. Never puts the URL in an error: URLs often carry tokens."""
    try:
        response = _session().request(
            method, url, timeout=timeout or settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS, **kwargs
        )
    except requests.Timeout:
        raise DeliveryError("provider timed out", code="timeout") from None
    except requests.ConnectionError as exc:
        raise DeliveryError(
            f"cannot reach provider: {type(exc).__name__}", code="connection"
        ) from None
    if check_status:
        raise_for_status(response)
    return response


def raise_for_status(response: requests.Response) -> None:
    """4xx is permanent (the request is wrong), 429/408/5xx are transient."""
    status = response.status_code
    if status < 400:
        return
    body = response.text[:300].strip()
    if status == 429:
        raise DeliveryError(
            f"rate limited by provider: {body}",
            rate_limited=True,
            retry_after=_retry_after(response),
            code="429",
        )
    if status == 408 or status >= 500:
        raise DeliveryError(f"provider error HTTP {status}: {body}", code=str(status))
    raise DeliveryError(
        f"rejected by provider HTTP {status}: {body}", permanent=True, code=str(status)
    )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return None
