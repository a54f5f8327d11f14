"""Settings shared by every environment; each value can come from the environment."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

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
    "django_celery_beat",
    "notify",
    "templates_app",
    "channels_app",
    "tracking",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6 default, opted into now

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
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
    "DEFAULT_PERMISSION_CLASSES": ["notify.authentication.IsAppAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "notify.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
# A 100,000-receiver send is a few MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("TIDINGS_MAX_BODY_BYTES", default=64 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Tidings API",
    "DESCRIPTION": "One REST API for every message channel.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"PriorityEnum": "notify.models.Priority"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("TIDINGS_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
    # Unacked tasks of a worker that vanished come back after this long; the
    # stuck-message sweeper covers the database side sooner.
    "visibility_timeout": env.int("TIDINGS_BROKER_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- Tidings ------------------------------------------------------------------------------
# Channels and priorities make the queue names: "<channel>.<priority>", e.g. "email.high".
TIDINGS_PRIORITIES = ("high", "normal", "low")
TIDINGS_HOUSEKEEPING_QUEUE = "housekeeping"
TIDINGS_MAX_RECEIVERS = env.int("TIDINGS_MAX_RECEIVERS", default=100_000)
TIDINGS_BATCH_SIZE = env.int("TIDINGS_BATCH_SIZE", default=500)
TIDINGS_MAX_ATTEMPTS = env.int("TIDINGS_MAX_ATTEMPTS", default=5)
TIDINGS_RETRY_BASE_SECONDS = env.float("TIDINGS_RETRY_BASE_SECONDS", default=10.0)
TIDINGS_RETRY_MAX_SECONDS = env.float("TIDINGS_RETRY_MAX_SECONDS", default=3600.0)
# A claimed message is owned by its worker this long per provider call; past it, a
# message left in SENDING is taken to belong to a dead worker and is sent again.
TIDINGS_CLAIM_LEASE_SECONDS = env.int("TIDINGS_CLAIM_LEASE_SECONDS", default=300)
TIDINGS_STUCK_AFTER_SECONDS = env.int("TIDINGS_STUCK_AFTER_SECONDS", default=300)
TIDINGS_SWEEP_INTERVAL_SECONDS = env.int("TIDINGS_SWEEP_INTERVAL_SECONDS", default=60)
TIDINGS_IDEMPOTENCY_HOURS = env.int("TIDINGS_IDEMPOTENCY_HOURS", default=24)
TIDINGS_PROVIDER_TIMEOUT_SECONDS = env.float("TIDINGS_PROVIDER_TIMEOUT_SECONDS", default=10.0)
# Consumer rules, run in order on every batch before the provider is called.
TIDINGS_RULES = env.list("TIDINGS_RULES", default=["notify.rules.expiry.ExpiryRule"])
# Fernet keys for channel credentials at rest; the first encrypts, all decrypt (rotation).
TIDINGS_ENCRYPTION_KEYS = env.list("TIDINGS_ENCRYPTION_KEYS", default=[])
