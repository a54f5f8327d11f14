"""`make run`: SQLite, a broker on the filesystem, no server needed. DATABASE_URL,
CELERY_BROKER_URL and REDIS_URL switch to PostgreSQL and Redis."""

import hashlib
import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-only-insecure-secret-key-change-me")
os.environ.setdefault("DJANGO_DEBUG", "true")
# Receipt webhooks are authenticated here too: the basic-auth secret is derived from the
# secret key (`make run` prints the receipt URLs that carry it).
os.environ.setdefault(
    "TIDINGS_ANYMAIL_WEBHOOK_SECRET",
    "anymail:"
    + hashlib.sha256(("tidings-anymail:" + os.environ["DJANGO_SECRET_KEY"]).encode()).hexdigest()[
        :32
    ],
)

from .base import *  # noqa: E402,F403
from .base import CELERY_BROKER_URL, VAR_DIR, env  # noqa: E402

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# `make run PORT=8001` / TIDINGS_PORT: links, receipts and `tidings doctor` use that port.
TIDINGS_PUBLIC_URL = env(
    "TIDINGS_PUBLIC_URL", default=f"http://127.0.0.1:{env('TIDINGS_PORT', default='8000')}"
)

if not CELERY_BROKER_URL:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # A hostname (ignored by the transport) keeps kombu from logging "No hostname was
    # supplied" for every connection.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchange tables; kombu's default is ./control, in the checkout.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
VAR_DIR.mkdir(exist_ok=True)

if CELERY_BROKER_URL.startswith("filesystem://"):
    # The filesystem transport has no fanout exchange for remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
