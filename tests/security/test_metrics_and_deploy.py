"""/metrics behind a bearer token, and production's secure defaults (`check --deploy`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_are_not_served_without_a_configured_token(db, settings):
    settings.TIDINGS_METRICS_TOKEN = ""
    response = Client().get("/metrics")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert b"tidings_" not in response.content


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", "Basic c2NyYXBlLXRva2VuLTEyMw==", "scrape-token-123"]
)
def test_metrics_refuse_a_missing_or_wrong_bearer(db, settings, header):
    settings.TIDINGS_METRICS_TOKEN = "scrape-token-123"
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"tidings_" not in response.content


def test_metrics_answer_with_the_bearer(db, settings):
    settings.TIDINGS_METRICS_TOKEN = "scrape-token-123"
    settings.TIDINGS_METRICS_CACHE_SECONDS = 0
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123")
    assert response.status_code == 200
    assert b"tidings_messages_pending" in response.content or b"# HELP" in response.content


REQUIRED_PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "Zq8v!x7Lr2#pW9mK4tN6bY1cH3jF5dS0gA8eR7uI2oP4lM6nB9vC",
    "DJANGO_ALLOWED_HOSTS": "tidings.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "TIDINGS_ENCRYPTION_KEYS": "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=",
    "TIDINGS_ANYMAIL_WEBHOOK_SECRET": "anymail:a-long-webhook-password",
    "TIDINGS_PUBLIC_URL": "https://tidings.example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_check_deploy_is_clean_with_only_the_required_variables():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=REQUIRED_PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNING" not in result.stderr + result.stdout


def test_production_refuses_to_start_without_the_receipt_webhook_secret():
    env = {
        k: v for k, v in REQUIRED_PRODUCTION_ENV.items() if k != "TIDINGS_ANYMAIL_WEBHOOK_SECRET"
    }
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "TIDINGS_ANYMAIL_WEBHOOK_SECRET" in result.stderr


def test_production_trusts_x_forwarded_proto_only_when_told():
    code = (
        "from django.conf import settings; "
        "print('RESULT', repr(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None)), "
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_REDIRECT_EXEMPT, "
        "settings.SECURE_HSTS_SECONDS > 0, settings.SESSION_COOKIE_SECURE)"
    )
    plain = _manage("shell", "-c", code, env=REQUIRED_PRODUCTION_ENV)
    line = next(x for x in plain.stdout.splitlines() if x.startswith("RESULT"))
    assert line == "RESULT None True ['^healthz'] True True", plain.stderr
    trusted = _manage(
        "shell", "-c", code, env={**REQUIRED_PRODUCTION_ENV, "DJANGO_TRUST_X_FORWARDED_PROTO": "1"}
    )
    assert "HTTP_X_FORWARDED_PROTO" in trusted.stdout, trusted.stderr
