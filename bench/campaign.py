"""Campaign fan-out benchmark: a crowd file of --rows rows (default 1,000,000) through the
whole campaign path (stream, batches through the send pipeline, checkpoint, enqueue).

Target (issue 12): every message ACCEPTED and enqueued in <= 45 s, peak RSS of a fan-out
process <= 300 MB. The file is cut into segments by the upload scan
(TIDINGS_CAMPAIGN_SEGMENT_ROWS) and fanned out by a real Celery worker on the campaigns
queue with --concurrency processes (the docs' campaigns worker), as in production.
Standalone: its own PostgreSQL database (created and migrated here), its own Redis database
as broker (purged after; BENCH_CAMPAIGN_BROKER_URL), the CSV in a temp dir, the worker in a
subprocess whose pool's peak RSS is read with resource.getrusage(RUSAGE_CHILDREN).

    .venv/bin/python bench/campaign.py [--rows 1000000] [--concurrency 2] [--keep-db]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_CAMPAIGN_DB", "tidings_campaign_bench")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
BROKER_URL = os.environ.get("BENCH_CAMPAIGN_BROKER_URL", "redis://127.0.0.1:6379/11")
ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.local",
    "DJANGO_SECRET_KEY": "bench-only",
    "DJANGO_DEBUG": "false",  # no query log growing with every batch
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    "REDIS_URL": BROKER_URL,
    "TIDINGS_APPROVAL_THRESHOLD": "0",
    # A benchmark measures throughput, not the per-App API rate limit.
    "TIDINGS_API_RATE_LIMIT": "1000000/s",
    "TIDINGS_LOG_LEVEL": "WARNING",
    "PYTHONPATH": str(ROOT),
}


# --- child processes (run with --child <phase>) -----------------------------------------------


def _django() -> None:
    import django

    django.setup()


def child_migrate() -> None:
    from django.core.management import call_command

    _django()
    call_command("migrate", verbosity=0)


def child_setup(csv_path: str, media: str) -> None:
    """App, sandbox account, template, a campaign with the uploaded file, started."""
    _django()
    from channels_app.models import ChannelAccount
    from notify.actors import Actor
    from notify.campaigns import services
    from notify.models import App, CampaignRun
    from notify.services import app_create
    from templates_app.models import MessageTemplate

    App.objects.filter(name="bench").delete()
    app, _ = app_create("bench")
    ChannelAccount.objects.create(app=app, name="sandbox", channel="email", provider="sandbox")
    MessageTemplate.objects.create(
        app=app, name="Promo", code="promo", channel="email", receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Your code is {$code}"},
    )  # fmt: skip
    actor = Actor(app=app)
    campaign = services.campaign_create(
        app, actor, name="bench", template="promo", audience={"type": "file"}
    )
    started = time.perf_counter()
    with open(csv_path, "rb") as handle:
        services.campaign_audience_upload(campaign, handle, "crowd.csv")
    scan = time.perf_counter() - started
    services.campaign_submit(campaign, actor)
    services.campaign_start(campaign)  # publishes the run task; this benchmark runs it itself
    run = CampaignRun.objects.get(campaign=campaign)
    print(json.dumps({"run_id": run.pk, "campaign_id": campaign.pk, "upload_scan_s": scan}))


def child_fanout(run_id: str, concurrency: str) -> None:
    """The run's task (what the campaigns worker runs first) publishes one task per segment;
    a real worker with `concurrency` processes fans them out. Its pool's peak RSS is this
    process's RUSAGE_CHILDREN once the worker has stopped."""
    _django()
    import signal

    from notify.campaigns.segments import run_execute
    from notify.models import CampaignRun

    cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "campaigns",
           "-c", concurrency, "-l", "warning", "--without-gossip", "--without-mingle",
           "--without-heartbeat", "-n", f"bench-campaign-{os.getpid()}@%h"]  # fmt: skip
    worker = subprocess.Popen(  # noqa: S603 - its banner must not mix with this child's answer
        cmd, cwd=ROOT, env={**os.environ, **ENV}, start_new_session=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        started = time.perf_counter()
        outcome = run_execute(int(run_id))
        while (status := CampaignRun.objects.get(pk=int(run_id)).status) == "running":
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
    pool = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"outcome": f"{outcome}, run {status}", "seconds": elapsed,
                      "self_max_rss_mb": pool}))  # fmt: skip


def child_verify(campaign_id: str) -> None:
    _django()
    import redis
    from django.conf import settings
    from django.db.models import Count

    from notify.campaigns.selectors import campaign_message_ids
    from notify.models import Campaign, CampaignRun
    from tracking.models import Message

    campaign = Campaign.objects.get(pk=int(campaign_id))
    run = CampaignRun.objects.get(campaign=campaign)
    ids = campaign_message_ids(campaign)
    states = dict(Message.objects.filter(id__in=ids).values_list("state").annotate(n=Count("id")))
    # A send's ACCEPTED is derived from the row (Message.trace_events): count the messages
    # that have one, stored or derived; none of a campaign's are held.
    accepted_events = Message.objects.filter(id__in=ids).count()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    tasks = client.llen("email.low")
    print(json.dumps({"status": campaign.status, "run": {"rows_done": run.rows_done,
          "accepted": run.accepted, "rejected": run.rejected, "batches": run.batches_done},
          "message_states": states, "accepted_events": accepted_events,
          "delivery_tasks_in_broker": tasks}))  # fmt: skip


# --- driver ---------------------------------------------------------------------------------


def _child(*args: str, capture: bool = True) -> str:
    env = {**os.environ, **ENV}
    result = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT, env=env, check=True, text=True,
        stdout=subprocess.PIPE if capture else None,
    )  # fmt: skip
    return result.stdout or ""


def _database(create: bool) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if create:
            db.execute(f'CREATE DATABASE "{DB_NAME}"')


def _purge_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()


def write_csv(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("receiver,name,code\n")
        chunk = []
        for i in range(rows):
            chunk.append(f"user{i}@example.com,User {i},{i:06d}\n")
            if len(chunk) == 10_000:
                out.writelines(chunk)
                chunk.clear()
        out.writelines(chunk)
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    parser.add_argument("--concurrency", default="2", help="campaigns worker processes")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        phase, *rest = args.child
        {"migrate": child_migrate, "setup": child_setup, "fanout": child_fanout,
         "verify": child_verify}[phase](*rest)  # fmt: skip
        return

    with tempfile.TemporaryDirectory(prefix="tidings-bench-") as tmp:
        ENV["DJANGO_MEDIA_ROOT"] = str(Path(tmp) / "media")
        csv_path = Path(tmp) / "crowd.csv"
        size = write_csv(csv_path, args.rows)
        print(f"crowd file: {args.rows:,} rows, {size / 1e6:.1f} MB")
        _database(create=True)
        _purge_broker()
        try:
            _child("migrate", capture=False)
            setup = json.loads(_child("setup", str(csv_path), ENV["DJANGO_MEDIA_ROOT"]))
            print(f"upload scan (validation of every row): {setup['upload_scan_s']:.1f} s")
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            started = time.perf_counter()
            fanout = json.loads(_child("fanout", str(setup["run_id"]), args.concurrency))
            wall = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            verify = json.loads(_child("verify", str(setup["campaign_id"])))
        finally:
            _purge_broker()
            if not args.keep_db:
                _database(create=False)
    print(json.dumps(verify, indent=2))
    print(f"fan-out: {fanout['outcome']} in {wall:.1f} s wall "
          f"({args.rows / wall:,.0f} rows/s); peak RSS of the children {peak:.0f} MB "
          f"(largest campaigns worker process {fanout['self_max_rss_mb']:.0f} MB; earlier children "
          f"peaked at {before:.0f} MB)")  # fmt: skip
    if args.rows < 1_000_000:
        print(f"(target is for 1,000,000 rows; at this rate: {1_000_000 / args.rows * wall:.0f} s)")
        return
    ok = (
        wall <= 45
        and fanout["self_max_rss_mb"] <= 300
        and verify["run"]["accepted"] == args.rows
        and set(verify["message_states"]) == {"QUEUED"}
    )
    print("TARGET MET" if ok else "TARGET MISSED (wall <= 45 s, RSS <= 300 MB, all accepted)")


if __name__ == "__main__":
    main()
