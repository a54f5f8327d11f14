"""Production: every secret comes from the environment and has no default."""

from .base import *  # noqa: F403
from .base import MEDIA_STORAGE, MIDDLEWARE, env, with_replica

DEBUG = False
# Static files (admin, dashboard charts) served by the app itself, from collectstatic's output.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES = with_replica(DATABASES)
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
TIDINGS_ENCRYPTION_KEYS = env.list("TIDINGS_ENCRYPTION_KEYS")
# Click, unsubscribe and receipt links are built on it; the local default would be wrong.
TIDINGS_PUBLIC_URL = env("TIDINGS_PUBLIC_URL")
TIDINGS_ANYMAIL_WEBHOOK_SECRET = env("TIDINGS_ANYMAIL_WEBHOOK_SECRET")  # required, no default

# --- Transport security (b2b): secure by default, `manage.py check --deploy` clean ---------
# X-Forwarded-Proto is trusted only when the operator says a proxy sets it (and strips a
# client's own): otherwise anyone could claim "https" over plain HTTP.
if env.bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancer / orchestrator probes speak plain HTTP (paths without the leading slash).
SECURE_REDIRECT_EXEMPT = env.list("DJANGO_SECURE_REDIRECT_EXEMPT", default=[r"^healthz"])
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
