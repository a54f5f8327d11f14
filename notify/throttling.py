"""Per-App API rate limit on the shared Redis: one counter per App and window, so every web
process and every key of the App count together. Fixed windows of the rate's period
(`100/s`: one-second windows), INCR + EXPIRE in one round trip."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.redis import get_redis
from notify.models import App
from notify.models.core import parse_rate

if TYPE_CHECKING:
    # Types only: rest_framework.views reads the API settings, which import this module.
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

KEY_PREFIX = "tidings:api-rate"


def app_rate(app: App) -> tuple[int, int]:
    """(requests, seconds) for this App: its own limit, else the default."""
    for rate in (app.api_rate_limit, settings.TIDINGS_API_RATE_LIMIT):
        if rate:
            try:
                return parse_rate(rate)
            except ValueError:
                logger.warning("ignoring the invalid API rate limit %r", rate)
    return 100, 1


class AppRateThrottle(BaseThrottle):
    """DRF throttle keyed by the App (request.auth). Only App-key requests count: the
    inbox's end-user token endpoints and public links are not an App's API traffic."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.wait_seconds: float | None = None
        app = request.auth
        if not isinstance(app, App):
            return True
        limit, period = app_rate(app)
        now = time.time()
        window = int(now // period)
        key = f"{KEY_PREFIX}:{app.pk}:{period}:{window}"
        try:
            pipe = get_redis().pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, period + 1)
            count = pipe.execute()[0]
        except RedisError:
            # Fail open: a Redis outage must not turn into an API outage (health checks and
            # the broker report Redis down on their own).
            logger.warning("API rate limit not checked: Redis unavailable")
            return True
        if count <= limit:
            return True
        self.wait_seconds = max((window + 1) * period - now, 0.001)
        return False

    def wait(self) -> float | None:
        # DRF sends Retry-After as whole seconds; never 0 while still over the limit.
        return math.ceil(self.wait_seconds) if self.wait_seconds else None
