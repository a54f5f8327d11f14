"""Settings shared by every environment; each value can come from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Everything `make run` writes (SQLite, broker, cache, demo key); TIDINGS_VAR_DIR moves it.
VAR_DIR = Path(os.environ.get("TIDINGS_VAR_DIR") or BASE_DIR / "var")

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "notify",
    "templates_app",
    "channels_app",
    "tracking",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A dead database/broker/Redis is a 503 + Retry-After (JSON under /api/), not a 500.
    "notify.errors.DependencyUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # --- API limits (b2a) ---: NUL characters in /api/ paths and query strings are a 400.
    "notify.api_guard.ApiInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Site-wide admin templates (branding, index links): config/templates/admin/.
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tidings.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: wait on locks instead of failing,
    # and take the write lock at BEGIN so concurrent writers queue instead of deadlocking.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
DATABASE_ROUTERS = ["config.db_routers.PrimaryReplicaRouter"]


def with_replica(databases: dict) -> dict:
    """Add the `replica` alias when DATABASE_REPLICA_URL names a streaming replica: traces,
    stats and dashboards read from it (config/db_routers.py); a test run mirrors it."""
    if DATABASE_REPLICA_URL:
        replica = env.db_url_config(DATABASE_REPLICA_URL)
        replica["CONN_MAX_AGE"] = databases["default"].get("CONN_MAX_AGE", 0)
        replica["CONN_HEALTH_CHECKS"] = True
        replica["TEST"] = {"MIRROR": "default"}
        databases["replica"] = replica
    return databases


DATABASES = with_replica(DATABASES)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
# Django's cache (provider access tokens, short-lived caches) needs a plain Redis URL: with a
# Redis Cluster (`redis+cluster://…`) or Sentinel (`redis+sentinel://…`) in REDIS_URL, name
# one in TIDINGS_CACHE_URL.
TIDINGS_CACHE_URL = env("TIDINGS_CACHE_URL", default="")
if not TIDINGS_CACHE_URL and "+" not in REDIS_URL.split("://", 1)[0]:
    TIDINGS_CACHE_URL = REDIS_URL
if REDIS_URL and not TIDINGS_CACHE_URL:
    raise ImproperlyConfigured(
        "REDIS_URL names a Redis Cluster or Sentinel: set TIDINGS_CACHE_URL to a plain Redis URL"
    )
if TIDINGS_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TIDINGS_CACHE_URL,
        }
    }
else:
    # Shared by web and worker processes without a server.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIDINGS_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["notify.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["notify.authentication.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["notify.parsers.JsonParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "notify.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "config.pagination.LimitOffsetPage",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": ["notify.throttling.AppRateThrottle"],
}

# --- API limits (b2a) ---------------------------------------------------------------------
# Requests per App (all its keys together) on the shared Redis: "<n>/s", "/m", "/h" or "/d";
# an App's own `api_rate_limit` overrides it. Above it: 429 with Retry-After.
TIDINGS_API_RATE_LIMIT = env("TIDINGS_API_RATE_LIMIT", default="100/s")
# JSON size of one message's variables (shared + its own); above it: 413 naming the field.
TIDINGS_MAX_VARIABLES_BYTES = env.int("TIDINGS_MAX_VARIABLES_BYTES", default=64 * 1024)
# The largest page any list answers (`?limit=`, `?page_size=`); larger asks are clamped.
TIDINGS_API_MAX_PAGE_SIZE = env.int("TIDINGS_API_MAX_PAGE_SIZE", default=1000)
# A 100,000-receiver send is a few MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("TIDINGS_MAX_BODY_BYTES", default=64 * 1024 * 1024)
# Files uploaded for media messages (POST /api/v1/media): the largest any provider takes.
TIDINGS_MEDIA_MAX_BYTES = env.int("TIDINGS_MEDIA_MAX_BYTES", default=50 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Tidings API",
    "DESCRIPTION": "One REST API for every message channel.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc come from our static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PriorityEnum": "notify.models.Priority",
        "ChannelEnum": "channels_app.channels.Channel",
    },
}

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    # Credentials never reach a log line: Authorization / Api-Key values, token=/key=/secret=
    # query parameters and known secret shapes are masked (config/logredact.py).
    "filters": {"redact": {"()": "config.logredact.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env("TIDINGS_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Deployment (docker/compose.yml) ------------------------------------------------------
# Media (crowd files): on MEDIA_ROOT, which web and the campaign workers must share (compose:
# the `media` volume), or in an S3-compatible bucket when TIDINGS_MEDIA_S3_BUCKET is set
# (django-storages; credentials and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME). Files stay private: no public URLs.
TIDINGS_MEDIA_S3_BUCKET = env("TIDINGS_MEDIA_S3_BUCKET", default="")
MEDIA_STORAGE: dict = (
    {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": TIDINGS_MEDIA_S3_BUCKET,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("AWS_S3_REGION_NAME", default="") or None,
            "location": env("TIDINGS_MEDIA_S3_PREFIX", default="media"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    if TIDINGS_MEDIA_S3_BUCKET
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
)
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Beat's scheduler (config.beat.HeartbeatScheduler) touches this file on every tick, for a
# health check on its age; empty: no heartbeat.
TIDINGS_BEAT_HEARTBEAT_FILE = env("TIDINGS_BEAT_HEARTBEAT_FILE", default="")

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
    # Unacked tasks of a worker that vanished come back after this long; the
    # stuck-message sweeper covers the database side sooner.
    "visibility_timeout": env.int("TIDINGS_BROKER_VISIBILITY_TIMEOUT", default=3600),
}
# --- RabbitMQ broker ---
# CELERY_BROKER_URL=amqp://user:pw@host:5672/vhost. Queues are durable and messages
# persistent (Celery's defaults); publisher confirms make a publish return only once the
# broker has the message; a dead worker's unacknowledged tasks come back as soon as its
# connection drops (no visibility timeout). Quorum queues (replicated, the default) need
# per-consumer QoS, which Celery detects, and countdowns then wait in the broker (native
# delayed delivery over topic exchanges) instead of in the worker; "classic" turns both off.
TIDINGS_BROKER_QUEUE_TYPE = env("TIDINGS_BROKER_QUEUE_TYPE", default="quorum")
if CELERY_BROKER_URL.split(":", 1)[0] in ("amqp", "amqps", "pyamqp"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    if TIDINGS_BROKER_QUEUE_TYPE == "quorum":
        CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
        CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = "quorum"
        CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
        CELERY_TASK_CREATE_MISSING_QUEUE_EXCHANGE_TYPE = "topic"
        CELERY_BROKER_NATIVE_DELAYED_DELIVERY_QUEUE_TYPE = "quorum"
        CELERY_WORKER_DETECT_QUORUM_QUEUES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes a worker's database connections around every task unless
# this is set; it then closes them every N tasks. Between those, config/celery_app.py keeps
# them by CONN_MAX_AGE with health checks, as Django does for requests.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_BEAT_SCHEDULER = "config.beat.HeartbeatScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- Tidings ------------------------------------------------------------------------------
# Channels and priorities make the queue names: "<channel>.<priority>", e.g. "email.high".
TIDINGS_PRIORITIES = ("high", "normal", "low")
TIDINGS_HOUSEKEEPING_QUEUE = "housekeeping"
TIDINGS_MAX_RECEIVERS = env.int("TIDINGS_MAX_RECEIVERS", default=100_000)
TIDINGS_BATCH_SIZE = env.int("TIDINGS_BATCH_SIZE", default=500)
# Transient errors are retried until the message was first queued TIDINGS_RETRY_WINDOW_SECONDS
# ago (the primary budget) or made TIDINGS_MAX_ATTEMPTS attempts (a cap), whichever is first;
# a message's TTL (expires_at) ends it sooner. See "Delivery reliability" below.
TIDINGS_MAX_ATTEMPTS = env.int("TIDINGS_MAX_ATTEMPTS", default=25)
TIDINGS_RETRY_BASE_SECONDS = env.float("TIDINGS_RETRY_BASE_SECONDS", default=10.0)
TIDINGS_RETRY_MAX_SECONDS = env.float("TIDINGS_RETRY_MAX_SECONDS", default=3600.0)
# A claimed message is owned by its worker this long; past it, a message left in SENDING is
# taken to belong to a dead worker and is sent again. A batch renews it before a provider
# call once a third of it has gone, so a call starts with two thirds of it ahead (keep
# TIDINGS_PROVIDER_TIMEOUT_SECONDS well under that); it bounds how long a killed worker's
# batch waits.
TIDINGS_CLAIM_LEASE_SECONDS = env.int("TIDINGS_CLAIM_LEASE_SECONDS", default=60)
# A waiting message nobody moved for this long is re-published once its task is plausibly
# lost: its lane has started a task that entered the queue after it, or the lane's queue is
# empty (notify/lane_progress.py). One merely queued behind a moving backlog is left alone,
# up to TIDINGS_LOST_TASK_MAX_SECONDS after its last publish, when it is re-published anyway.
TIDINGS_STUCK_AFTER_SECONDS = env.int("TIDINGS_STUCK_AFTER_SECONDS", default=120)
TIDINGS_LOST_TASK_MAX_SECONDS = env.int("TIDINGS_LOST_TASK_MAX_SECONDS", default=900)
TIDINGS_SWEEP_INTERVAL_SECONDS = env.int("TIDINGS_SWEEP_INTERVAL_SECONDS", default=30)
TIDINGS_IDEMPOTENCY_HOURS = env.int("TIDINGS_IDEMPOTENCY_HOURS", default=24)
TIDINGS_PROVIDER_TIMEOUT_SECONDS = env.float("TIDINGS_PROVIDER_TIMEOUT_SECONDS", default=10.0)
# Threads per worker process that carry the requests of single-request providers (APNs, FCM,
# robots, Slack, SMTP…); an account's `max_in_flight` bounds its share (see
# channels_app/providers/runner.py).
TIDINGS_DISPATCH_THREADS = env.int("TIDINGS_DISPATCH_THREADS", default=64)
# An account's in-flight window in a process starts here and grows with answered calls.
TIDINGS_DISPATCH_INITIAL_WINDOW = env.int("TIDINGS_DISPATCH_INITIAL_WINDOW", default=4)
# Consumer rules, run in order on every batch before the provider is called.
TIDINGS_RULES = env.list(
    "TIDINGS_RULES",
    default=[
        "notify.rules.expiry.ExpiryRule",
        "notify.rules.discard.DiscardRule",
        "notify.rules.whitelist.WhitelistRule",
        "notify.rules.preferences.PreferencesRule",
        "notify.rules.push_tokens.DeadPushTokenRule",
        "notify.rules.night.NightShieldRule",
        "notify.rules.sensitive.SensitiveWordsRule",
        "notify.rules.dedup.ContentDedupRule",
        "notify.rules.frequency.FrequencyCapRule",
        "notify.rules.flow.FlowControlRule",
        # Last: only messages that will really be sent get tracked links.
        "tracking.clicks.ClickTrackingRule",
    ],
)
# Fernet keys for channel credentials at rest; the first encrypts, all decrypt (rotation).
TIDINGS_ENCRYPTION_KEYS = env.list("TIDINGS_ENCRYPTION_KEYS", default=[])

# --- Egress policy ------------------------------------------------------------------------
# Outbound connections (provider APIs, webhooks, callbacks, SMTP, Apprise, attachments) never
# go to loopback, private, link-local, CGNAT, multicast or reserved addresses, except those
# the operator lists here: comma-separated hosts, host:port, IPs or CIDRs. Apps cannot open it.
TIDINGS_EGRESS_ALLOWLIST = env.list("TIDINGS_EGRESS_ALLOWLIST", default=[])

# --- Channels routing ---------------------------------------------------------------------
# A channel account's circuit breaker opens after this many consecutive failed provider
# calls that are also TIDINGS_BREAKER_FAILURE_RATE of its calls in the window, stays open this
# long, then ramps traffic back (half-open): see channels_app/breaker.py.
TIDINGS_BREAKER_FAILURES = env.int("TIDINGS_BREAKER_FAILURES", default=5)
TIDINGS_BREAKER_OPEN_SECONDS = env.float("TIDINGS_BREAKER_OPEN_SECONDS", default=30.0)

# --- Delivery reliability -----------------------------------------------------------------
# Primary retry budget for transient errors (6 h), counted from when the message was queued.
TIDINGS_RETRY_WINDOW_SECONDS = env.int("TIDINGS_RETRY_WINDOW_SECONDS", default=6 * 3600)
# Retries and deferrals due within the same bucket share one delivery task per lane.
TIDINGS_RETRY_BUCKET_SECONDS = env.float("TIDINGS_RETRY_BUCKET_SECONDS", default=1.0)
# The breaker's failure-rate window and the share of failed calls that may open it.
TIDINGS_BREAKER_WINDOW_SECONDS = env.int("TIDINGS_BREAKER_WINDOW_SECONDS", default=10)
TIDINGS_BREAKER_FAILURE_RATE = env.float("TIDINGS_BREAKER_FAILURE_RATE", default=0.8)
# Half-open ramp: calls allowed per window start at 1 and double per success; this many
# successes close the breaker.
TIDINGS_BREAKER_PROBE_WINDOW_SECONDS = env.float(
    "TIDINGS_BREAKER_PROBE_WINDOW_SECONDS", default=1.0
)
TIDINGS_BREAKER_CLOSE_AFTER = env.int("TIDINGS_BREAKER_CLOSE_AFTER", default=6)
# In-app inbox tokens (POST /api/v1/inbox-tokens): default and longest lifetime.
TIDINGS_INBOX_TOKEN_SECONDS = env.int("TIDINGS_INBOX_TOKEN_SECONDS", default=24 * 3600)
TIDINGS_INBOX_TOKEN_MAX_SECONDS = env.int("TIDINGS_INBOX_TOKEN_MAX_SECONDS", default=30 * 24 * 3600)

# --- Consumer rules -----------------------------------------------------------------------
# The per-App rule settings live in the database (notify.models.rules); these are the knobs
# of the machinery around them.
# "production" turns the whitelist rule off whatever an App's settings say.
TIDINGS_ENVIRONMENT = env("TIDINGS_ENVIRONMENT", default="development")
# Workers re-read rule settings this often: an edit takes effect within these seconds.
TIDINGS_RULES_CACHE_SECONDS = env.float("TIDINGS_RULES_CACHE_SECONDS", default=5.0)
TIDINGS_RULES_REDIS_PREFIX = env("TIDINGS_RULES_REDIS_PREFIX", default="tidings:rules:")
# Time to live per message type when a send gives no `ttl` (seconds; 0 = none).
TIDINGS_DEFAULT_TTL_SECONDS = {
    "verification": env.int("TIDINGS_VERIFICATION_TTL_SECONDS", default=300),
    "notice": env.int("TIDINGS_NOTICE_TTL_SECONDS", default=0),
    "marketing": env.int("TIDINGS_MARKETING_TTL_SECONDS", default=0),
}
# Unsubscribe links are built on TIDINGS_PUBLIC_URL (defined with tracking's settings).
# Deferred messages (quiet hours, throttled) whose countdown was lost are re-enqueued by
# beat this often, once they are this late.
# The sweeper releases deferred or retrying messages this long after they fell due.
TIDINGS_RELEASE_GRACE_SECONDS = env.int("TIDINGS_RELEASE_GRACE_SECONDS", default=30)
# Longer deferrals get no countdown task (it would outlive the broker's visibility timeout).
TIDINGS_COUNTDOWN_MAX_SECONDS = env.int("TIDINGS_COUNTDOWN_MAX_SECONDS", default=900)

# --- Outages and health ---
# Retry-After (seconds) of the 503 answered while PostgreSQL, the broker or Redis is down.
TIDINGS_UNAVAILABLE_RETRY_AFTER_SECONDS = env.int(
    "TIDINGS_UNAVAILABLE_RETRY_AFTER_SECONDS", default=5
)
# /healthz/ready gives each dependency this long to answer.
TIDINGS_HEALTH_TIMEOUT_SECONDS = env.float("TIDINGS_HEALTH_TIMEOUT_SECONDS", default=2.0)

# --- Campaigns ----------------------------------------------------------------------------
# Uploaded crowd files live under MEDIA_ROOT (never served publicly: no URL route for them).
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"
# Campaign fan-outs run on their own queue so a million-row file never delays housekeeping.
TIDINGS_CAMPAIGN_QUEUE = env("TIDINGS_CAMPAIGN_QUEUE", default="campaigns")
# Rows per pipeline call (one transaction, one checkpoint); pause/cancel act between batches.
TIDINGS_CAMPAIGN_BATCH_SIZE = env.int("TIDINGS_CAMPAIGN_BATCH_SIZE", default=5000)
# A crowd file of more rows is cut into segments of this many rows that fan out in parallel
# on the campaign workers, each with its own lease and checkpoint (0: never segmented).
TIDINGS_CAMPAIGN_SEGMENT_ROWS = env.int("TIDINGS_CAMPAIGN_SEGMENT_ROWS", default=100_000)
# A run's progress counts over this many messages are cached for a few seconds: counting
# 1M message states takes ~1 s, and a progress page polls.
TIDINGS_CAMPAIGN_PROGRESS_CACHE_ABOVE = env.int(
    "TIDINGS_CAMPAIGN_PROGRESS_CACHE_ABOVE", default=50_000
)
TIDINGS_CAMPAIGN_PROGRESS_CACHE_SECONDS = env.int(
    "TIDINGS_CAMPAIGN_PROGRESS_CACHE_SECONDS", default=5
)
# Optional pause between batches, to trickle a low-priority campaign out.
TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS = env.float(
    "TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS", default=0.0
)
# A run whose executor has not committed a batch for this long is taken as dead and resumed
# from its checkpoint by beat (every TIDINGS_CAMPAIGN_RESUME_INTERVAL_SECONDS).
TIDINGS_CAMPAIGN_STALL_SECONDS = env.int("TIDINGS_CAMPAIGN_STALL_SECONDS", default=120)
TIDINGS_CAMPAIGN_RESUME_INTERVAL_SECONDS = env.int(
    "TIDINGS_CAMPAIGN_RESUME_INTERVAL_SECONDS", default=30
)
# Four-eyes: campaigns and API sends above this many receivers wait for a staff user's
# approval in the admin (0 turns approval off).
TIDINGS_APPROVAL_THRESHOLD = env.int("TIDINGS_APPROVAL_THRESHOLD", default=50_000)
# Beat releases due `send_at` sends this often.
TIDINGS_SCHEDULED_RELEASE_SECONDS = env.int("TIDINGS_SCHEDULED_RELEASE_SECONDS", default=5)

# --- Operator command (`tidings doctor`) ---------------------------------------------------
# Beat writes its heartbeat on every scheduler tick (at most 5 s apart, config/beat.py);
# doctor fails beat when the heartbeat is older than 3 times this.
TIDINGS_BEAT_HEARTBEAT_SECONDS = env.int("TIDINGS_BEAT_HEARTBEAT_SECONDS", default=10)
# Each worker marks the queues it consumes this often (doctor's "workers" lines).
TIDINGS_WORKER_HEARTBEAT_SECONDS = env.int("TIDINGS_WORKER_HEARTBEAT_SECONDS", default=10)
# App and database clocks further apart than this fail doctor's clock line (seconds).
TIDINGS_CLOCK_SKEW_MAX_SECONDS = env.float("TIDINGS_CLOCK_SKEW_MAX_SECONDS", default=2.0)

# Providers outside this tree (plugin packages), "kind=dotted.path.Adapter,...": each is a
# folder like channels_app/providers/<kind>/ (channels_app/providers/registry.py).
TIDINGS_EXTRA_PROVIDERS = env.dict("TIDINGS_EXTRA_PROVIDERS", default={})

# --- Tracking -----------------------------------------------------------------------------
# Where receivers and providers reach this server: click redirects (/t/<token>) and
# receipt URLs (/r/<provider>/...) are built on it.
TIDINGS_PUBLIC_URL = env("TIDINGS_PUBLIC_URL", default="http://127.0.0.1:8000")
# Receipt polling for providers that keep statuses to be pulled (their folder's receipts.pull):
# empty (the default) polls every such provider but the opt-in ones (yunpian_sms: its
# pull_status API must first be enabled in Yunpian's console); a list polls exactly those.
TIDINGS_RECEIPT_PULL_PROVIDERS = env.list("TIDINGS_RECEIPT_PULL_PROVIDERS", default=[])
TIDINGS_RECEIPT_PULL_INTERVAL_SECONDS = env.int("TIDINGS_RECEIPT_PULL_INTERVAL_SECONDS", default=60)
TIDINGS_RECEIPT_PULL_LIMIT = env.int("TIDINGS_RECEIPT_PULL_LIMIT", default=500)  # per account/run
TIDINGS_RECEIPT_PULL_HOURS = env.int("TIDINGS_RECEIPT_PULL_HOURS", default=72)
TIDINGS_RECEIPT_PULL_DELAY_SECONDS = env.int("TIDINGS_RECEIPT_PULL_DELAY_SECONDS", default=30)
# Status callbacks to the Apps' URLs.
TIDINGS_CALLBACK_INTERVAL_SECONDS = env.int("TIDINGS_CALLBACK_INTERVAL_SECONDS", default=5)
TIDINGS_CALLBACK_BATCH_SIZE = env.int("TIDINGS_CALLBACK_BATCH_SIZE", default=200)
TIDINGS_CALLBACK_TIMEOUT_SECONDS = env.float("TIDINGS_CALLBACK_TIMEOUT_SECONDS", default=5.0)
TIDINGS_CALLBACK_MAX_ATTEMPTS = env.int("TIDINGS_CALLBACK_MAX_ATTEMPTS", default=12)
TIDINGS_CALLBACK_RETRY_BASE_SECONDS = env.float("TIDINGS_CALLBACK_RETRY_BASE_SECONDS", default=10.0)
TIDINGS_CALLBACK_RETRY_MAX_SECONDS = env.float("TIDINGS_CALLBACK_RETRY_MAX_SECONDS", default=3600.0)
# Retention of messages and traces (0 keeps them forever); the daily aggregates stay.
TIDINGS_RETENTION_DAYS = env.int("TIDINGS_RETENTION_DAYS", default=90)
TIDINGS_RETENTION_BATCH_SIZE = env.int("TIDINGS_RETENTION_BATCH_SIZE", default=5000)
# PostgreSQL: messages and events are partitioned by time (tracking/partitions.py): "month"
# or "day" (for billions of messages a day), created this many periods ahead by beat.
TIDINGS_PARTITION_INTERVAL = env("TIDINGS_PARTITION_INTERVAL", default="month")
TIDINGS_PARTITIONS_AHEAD = env.int("TIDINGS_PARTITIONS_AHEAD", default=3)
TIDINGS_RETENTION_INTERVAL_SECONDS = env.int("TIDINGS_RETENTION_INTERVAL_SECONDS", default=3600)
# Beat folds the stats' per-batch delta rows into one row per key this often.
TIDINGS_STATS_COMPACT_INTERVAL_SECONDS = env.int(
    "TIDINGS_STATS_COMPACT_INTERVAL_SECONDS", default=60
)
# /metrics computes the Tidings gauges at most this often.
TIDINGS_METRICS_CACHE_SECONDS = env.float("TIDINGS_METRICS_CACHE_SECONDS", default=5.0)

# --- Security: receipts, /metrics, admin login (b2b) ----------------------------------------
# Email receipts through django-anymail's tracking webhooks (/r/anymail/<esp>/tracking/):
# the basic-auth "user:password" every ESP must put in the webhook URL. Required in every
# settings module (local and test derive one from the secret key), so no receipt endpoint
# is ever open; plus each ESP's own signature key where it signs (tracking/receipts/).
TIDINGS_ANYMAIL_WEBHOOK_SECRET = env("TIDINGS_ANYMAIL_WEBHOOK_SECRET")
if ":" not in TIDINGS_ANYMAIL_WEBHOOK_SECRET or TIDINGS_ANYMAIL_WEBHOOK_SECRET.startswith(":"):
    raise ImproperlyConfigured('TIDINGS_ANYMAIL_WEBHOOK_SECRET must look like "user:password"')
ANYMAIL = {
    key: value
    for key, value in {
        "WEBHOOK_SECRET": TIDINGS_ANYMAIL_WEBHOOK_SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": env("TIDINGS_MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": env(
            "TIDINGS_SENDGRID_WEBHOOK_VERIFICATION_KEY", default=""
        ),
        # SNS subscriptions are confirmed by hand (the URL is in the refused request's log).
        "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
        # Every other ESP's webhook signing key: TIDINGS_ANYMAIL_<ANYMAIL SETTING>, e.g.
        # TIDINGS_ANYMAIL_MANDRILL_WEBHOOK_KEY (docs/channels.md lists them per ESP).
        **{
            name.removeprefix("TIDINGS_ANYMAIL_"): value
            for name, value in os.environ.items()
            if name.startswith("TIDINGS_ANYMAIL_") and name != "TIDINGS_ANYMAIL_WEBHOOK_SECRET"
        },
    }.items()
    if value != ""
}
# Amazon SES receipts arrive as SNS messages signed with a certificate fetched from this
# URL pattern only (an attacker-supplied SigningCertURL elsewhere is refused).
TIDINGS_SNS_CERT_URL_REGEX = env(
    "TIDINGS_SNS_CERT_URL_REGEX",
    default=r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[^?#]+\.pem$",
)
# Optional: only these SNS topics may post SES receipts (comma-separated ARNs; empty: any
# topic whose message is correctly signed and carries the basic-auth secret).
TIDINGS_SES_SNS_TOPIC_ARNS = env.list("TIDINGS_SES_SNS_TOPIC_ARNS", default=[])
# /metrics is served only with a bearer token (Prometheus `authorization: credentials:`);
# without one configured it is not served at all (404).
TIDINGS_METRICS_TOKEN = env("TIDINGS_METRICS_TOKEN", default="")
# Admin login lockout (django-axes): this many failures per username + IP lock that pair
# out for the cool-off; a success resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("TIDINGS_ADMIN_LOGIN_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("TIDINGS_ADMIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
