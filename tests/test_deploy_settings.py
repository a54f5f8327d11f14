"""Production settings as docker/compose.yml runs them: required public URL, media storage."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.e2e.conftest import ROOT

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "s",
    "DJANGO_ALLOWED_HOSTS": "x",
    "DATABASE_URL": "postgres://u@127.0.0.1:5432/none",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6380/15",
    "TIDINGS_ENCRYPTION_KEYS": "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=",
    "TIDINGS_PUBLIC_URL": "https://push.example",
    "TIDINGS_ANYMAIL_WEBHOOK_SECRET": "anymail:secret",
}
PRINT_STORAGE = (
    "import django; django.setup(); from django.conf import settings; "
    "from django.core.files.storage import storages; media = storages['default']; "
    "print(settings.TIDINGS_PUBLIC_URL, type(media).__name__, getattr(media, 'bucket_name', '-'))"
)


def _run(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TIDINGS_", "DJANGO_"))}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", PRINT_STORAGE], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_requires_the_public_url():
    env = {k: v for k, v in PRODUCTION.items() if k != "TIDINGS_PUBLIC_URL"}
    result = _run(**env)
    assert result.returncode != 0
    assert "TIDINGS_PUBLIC_URL" in result.stderr


def test_media_on_the_filesystem_or_in_s3_when_a_bucket_is_set():
    local = _run(**PRODUCTION)
    assert local.returncode == 0, local.stderr
    assert local.stdout.split() == ["https://push.example", "FileSystemStorage", "-"]

    s3 = _run(
        **PRODUCTION, TIDINGS_MEDIA_S3_BUCKET="crowd", AWS_S3_ENDPOINT_URL="http://127.0.0.1:9"
    )
    assert s3.returncode == 0, s3.stderr
    assert s3.stdout.split() == ["https://push.example", "S3Storage", "crowd"]


def test_metrics_files_are_named_per_container_not_per_pid(tmp_path):
    # Compose shares PROMETHEUS_MULTIPROC_DIR between containers, whose pids repeat.
    observe = (
        "import django; django.setup(); from tracking.metrics import PROVIDER_LATENCY; "
        "PROVIDER_LATENCY.labels('sandbox', 'ok').observe(0.01)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "TIDINGS_METRICS_INSTANCE": "ctr1"}  # fmt: skip
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", observe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names and all(name.startswith("histogram_ctr1-") for name in names), names


def test_the_web_process_loads_its_url_modules_before_its_first_request():
    # The URL conf reaches every provider's receipt webhooks: ~0.8 s that each gunicorn
    # worker's first caller waited for while they were imported on demand.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TIDINGS_", "DJANGO_"))}
    check = (
        "import sys; import config.wsgi; "
        "print('tracking.public_urls' in sys.modules, 'notify.urls' in sys.modules)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", check], cwd=ROOT, env={**base, **PRODUCTION},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
