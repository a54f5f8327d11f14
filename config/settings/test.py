"""pytest: PostgreSQL and Redis on this machine unless DATABASE_URL / REDIS_URL say otherwise."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tidings")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("TIDINGS_ANYMAIL_WEBHOOK_SECRET", "anymail:test-webhook-secret")
# TIDINGS_TEST_BROKER=rabbitmq runs the suite on RabbitMQ, in a vhost of its own (created
# and dropped by tests/conftest.py). Exported so worker subprocesses use the same one.
if os.environ.get("TIDINGS_TEST_BROKER", "redis") == "rabbitmq":
    _database = os.environ["DATABASE_URL"].rsplit("/", 1)[-1].split("?")[0]
    os.environ.setdefault(
        "TIDINGS_TEST_RABBITMQ_URL", f"amqp://guest:guest@127.0.0.1:5672/tidings_test_{_database}"
    )
    os.environ["CELERY_BROKER_URL"] = os.environ["TIDINGS_TEST_RABBITMQ_URL"]

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TIDINGS_ENCRYPTION_KEYS = env.list(
    "TIDINGS_ENCRYPTION_KEYS", default=["dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0="]
)
TIDINGS_RETRY_BASE_SECONDS = env.float("TIDINGS_RETRY_BASE_SECONDS", default=0.2)
TIDINGS_RETRY_MAX_SECONDS = env.float("TIDINGS_RETRY_MAX_SECONDS", default=2.0)
TIDINGS_PROVIDER_TIMEOUT_SECONDS = env.float("TIDINGS_PROVIDER_TIMEOUT_SECONDS", default=2.0)
# The suite's fake providers listen on loopback; the egress tests override this to [].
TIDINGS_EGRESS_ALLOWLIST = env.list(
    "TIDINGS_EGRESS_ALLOWLIST", default=["127.0.0.1", "localhost", "::1"]
)
# --- API limits (b2a) ---: high enough that no test trips it unless it sets its own.
TIDINGS_API_RATE_LIMIT = env("TIDINGS_API_RATE_LIMIT", default="1000000/s")
LOGGING["root"]["level"] = env("TIDINGS_LOG_LEVEL", default="WARNING")  # noqa: F405
